package mesh

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/observe"
)

// maxAttempts bounds how often a command decides again after losing a race.
const maxAttempts = 25

// Decision is one attempt at a command: read current state, decide the
// events. Returning no events means there is nothing to do (the command was
// already applied, or asks for no change).
type Decision func() ([]Outgoing, error)

// Snapshot is the state a decision read, in one transaction. It says what
// each event decided from it must find in the stream to be written: most
// embed Positions (the entity is where it was read); the catalog expects
// its whole stream unchanged, since a sku is unique across products.
type Snapshot interface {
	Expect(subject string) Expect
}

// DecisionWriter stores the events of a decision: a *Writer, or a fake in
// a test of a service's use cases that runs no JetStream.
type DecisionWriter interface {
	Write(ctx context.Context, cause Cause, decide Decision) (uint64, error)
}

// Decide runs one command the way every service does: read a snapshot,
// decide events from it, guard each with what the snapshot expects, and
// write them (Writer.Write, with its retries and catch-ups). read is
// called again for every attempt, so each decides on fresh state.
func Decide[S Snapshot, E Event](ctx context.Context, w DecisionWriter, cause Cause, read func() (S, error), decide func(S) ([]E, error)) error {
	_, err := w.Write(ctx, cause, func() ([]Outgoing, error) {
		snap, err := read()
		if err != nil {
			return nil, err
		}
		evs, err := decide(snap)
		if err != nil {
			return nil, err
		}
		return Guard(evs, snap), nil
	})
	return err
}

// Writer runs commands against a service's own stream with optimistic
// concurrency and read-your-writes.
type Writer struct {
	pub     *Publisher
	proj    *Projection
	stream  string
	publish publishFunc
}

// NewWriter returns a writer that publishes to stream and waits for proj.
func NewWriter(pub *Publisher, proj *Projection, stream string) *Writer {
	return &Writer{pub: pub, proj: proj, stream: stream, publish: pub.publish}
}

// Atomic returns a writer whose decisions are stored all or none
// (Publisher.PublishAtomic). Keep it for a service whose decisions of
// several events are rare: on a file-backed stream each one costs the
// server a staging store on disk.
func (w *Writer) Atomic() *Writer {
	atomic := *w
	atomic.publish = w.pub.publishAtomic
	return &atomic
}

// CatchUp waits until the writer's projection has applied everything its
// streams hold now: for a decision that must see all there is (ADR 6).
func (w *Writer) CatchUp(ctx context.Context) error { return w.proj.CatchUpAll(ctx) }

// Write decides and publishes until JetStream accepts the events, then waits
// until the projection has applied them and published their views, so the
// client that asked reads its own write. A command caused by an event
// (CausedBy) waits only until they are applied: nobody reads its answer, and
// the next decision only needs the local state. A command that finds
// nothing to do (a retried request) also answers only once the views show
// what it decided on (settle). On a conflict it catches up with the stream
// and decides again, so the decision always sees the latest state.
//
// The events go out one by one (Publisher.Publish): a decision of several
// events must be one that, decided again from what its first events left,
// completes the rest. Write is that "decide again" after a conflict, and a
// redelivered reaction is it after a crash.
//
// A decision that changes nothing or fails may have read state that lags
// the stream: a reaction can see another service's answer before this
// service's projection has applied the event that caused it. So before
// taking "nothing to do" or an error as final, Write catches up once and
// decides again. Decisions that do change something need no such care:
// their expectations make JetStream refuse them if the state was stale.
func (w *Writer) Write(ctx context.Context, cause Cause, decide Decision) (uint64, error) {
	if tp := observe.TraceParent(ctx); tp != "" {
		cause.TraceParent = tp // the command's own span is the new events' parent
	}
	caughtUp := false
	for attempt := range maxAttempts {
		first, err := w.proj.archiveApplied(ctx, w.stream) // before the decision reads
		if err != nil {
			return 0, err
		}
		out, err := w.decide(ctx, decide, &caughtUp)
		if err != nil {
			return 0, err
		}
		if len(out) == 0 {
			return 0, w.settle(ctx, cause)
		}
		seq, err := w.publish(ctx, w.stream, cause, sinceArchived(out, first))
		switch {
		case err == nil && cause.byEvent:
			return seq, w.proj.WaitApplied(ctx, w.stream, seq)
		case err == nil:
			return seq, w.proj.WaitFor(ctx, w.stream, seq)
		case errors.Is(err, ErrAlreadyStored):
			if err := w.proj.CatchUp(ctx, w.stream); err != nil {
				return 0, err
			}
			return 0, w.settle(ctx, cause)
		case !errors.Is(err, ErrConflict):
			return 0, err
		}
		if err := w.catchUpAfter(ctx, err, seq); err != nil {
			return 0, err
		}
		caughtUp = true
		if err := pause(ctx, attempt); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("gave up after %d attempts: %w", maxAttempts, ErrConflict)
}

// sinceArchived expects no message on an entity whose last event the
// stream no longer holds: it has moved to the stream's archive with the
// history before first, the stream's first sequence (ADR 25), and
// JetStream finds nothing on its subjects. The projection has applied
// everything before first before the decision reads its state, so the
// decision saw every archived event of the entity: its position is the
// entity's last, and "nothing in the stream" says the same. A message of the entity the stream still holds
// makes JetStream refuse the write, as any stale expectation does.
func sinceArchived(out []Outgoing, first uint64) []Outgoing {
	for i, o := range out {
		if o.Expect != nil && o.Expect.Seq > 0 && o.Expect.Seq < first {
			out[i].Expect = &Expect{Filter: o.Expect.Filter}
		}
	}
	return out
}

// publishFunc publishes a decision's events to the writer's stream.
type publishFunc func(ctx context.Context, stream string, cause Cause, out []Outgoing) (uint64, error)

// settle is what a command that writes nothing waits for before it
// answers. What it decided on may be a write not yet visible: a request
// sent again while the first is being answered finds the first's event
// applied, and nothing to do, before the views show it. The client reads
// next, so the views must show all the state holds of the service's
// stream. A command caused by an event has no reader.
func (w *Writer) settle(ctx context.Context, cause Cause) error {
	if cause.byEvent {
		return nil
	}
	return w.proj.WaitFor(ctx, w.stream, w.proj.appliedTo(w.stream))
}

// catchUpAfter waits until the projection has applied the event that won
// the race, which the conflict names, and the decision's own events stored
// before it lost (up to written): decided again, it must see both. Without
// a named sequence, it waits for everything stored now.
func (w *Writer) catchUpAfter(ctx context.Context, err error, written uint64) error {
	var c conflictError
	if errors.As(err, &c) && c.last > 0 {
		return w.proj.WaitApplied(ctx, w.stream, max(c.last, written))
	}
	return w.proj.CatchUp(ctx, w.stream)
}

// decide runs the decision; "nothing to do" and errors are checked again
// once against a projection caught up with all its streams: the state may
// lag this service's own stream, or another one it reads (a product created
// a moment ago that an order names).
func (w *Writer) decide(ctx context.Context, decide Decision, caughtUp *bool) ([]Outgoing, error) {
	out, err := decide()
	if (err == nil && len(out) > 0) || *caughtUp {
		return out, err
	}
	to, err := w.proj.catchUpAll(ctx)
	if err != nil {
		return nil, err
	}
	*caughtUp = true
	out, err = decide()
	if err == nil && len(out) == 0 {
		w.logNothingToDo(ctx, to)
	}
	return out, err
}

// logNothingToDo says, at debug, that a decision found nothing to do on
// state caught up with its streams, and how far: a cause dropped this way
// on state that missed an event is a saga step lost (docs/deploy.md, Open
// findings), and this line is what tells.
func (w *Writer) logNothingToDo(ctx context.Context, to map[string]uint64) {
	ev := w.proj.log.Debug()
	if !ev.Enabled() {
		return
	}
	if e, ok := ctx.Value(eventKey{}).(Envelope); ok {
		ev = ev.Str("correlation_id", e.CorrelationID).Str("caused_by", e.Subject)
	}
	d := zerolog.Dict()
	for stream, seq := range to {
		d = d.Uint64(stream, seq)
	}
	applied := zerolog.Dict()
	for stream, seq := range w.proj.positions() {
		applied = applied.Uint64(stream, seq)
	}
	ev.Dict("caught_up_to", d).Dict("applied", applied).Msg("nothing to do, after catching up")
}

// pause spreads competing writers apart after a conflict, with jitter so
// they do not collide again in lockstep.
func pause(ctx context.Context, attempt int) error {
	if attempt == 0 {
		return nil
	}
	d := time.Duration(rand.Int64N(int64(attempt)*int64(2*time.Millisecond)) + 1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
