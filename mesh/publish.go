package mesh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// ErrConflict means another writer got there first: the expected last
// sequence did not match. Catch up and decide again.
var ErrConflict = errors.New("concurrent write conflict")

// conflictError is a conflict that names the sequence the entity is really
// at, which JetStream says in its answer: catching up to it needs no
// round trip to ask the stream.
type conflictError struct {
	last uint64
	text string
}

func (c conflictError) Error() string { return ErrConflict.Error() + ": " + c.text }
func (c conflictError) Unwrap() error { return ErrConflict }

// Expect is an optimistic-concurrency expectation checked by JetStream
// itself: the last message on subjects matching Filter has sequence Seq
// (0: there is none yet).
type Expect struct {
	Filter string
	Seq    uint64
}

// Outgoing is one event to publish and the expectation guarding it.
type Outgoing struct {
	Event  Event
	Expect *Expect
}

// Publisher writes events with the envelope into the service's own stream.
type Publisher struct {
	js      jetstream.JetStream
	source  string
	metrics *observe.Metrics
	// failing is the last write error JetStream gave, until a write works.
	mu      sync.Mutex
	failing error
}

// NewPublisher returns a publisher that stamps source (e.g. "shopmesh/orders")
// on every event. metrics may be nil.
func NewPublisher(js jetstream.JetStream, source string, metrics *observe.Metrics) *Publisher {
	return &Publisher{js: js, source: source, metrics: metrics}
}

// Healthy reports the error of the last write if no write has worked
// since: a store that refuses writes makes the service unready, and a
// write that works again makes it ready.
func (p *Publisher) Healthy() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failing
}

func (p *Publisher) wrote(err error) {
	switch {
	case errors.Is(err, context.Canceled):
		return // the caller left: that says nothing of the store
	case errors.Is(err, ErrConflict), errors.Is(err, ErrAlreadyStored):
		err = nil // the store works: the write was refused on its merits
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = err
}

// Publish writes the events one at a time, in order, each with its own
// expectation, and returns the stream sequence of the last; on an error,
// the sequence of the last one written before it (0 if none). An event whose
// entity an earlier event of the same call wrote expects that event's
// sequence. An unguarded event of a replayed cause is dropped by JetStream
// as a duplicate and reports the sequence originally stored; a guarded one
// fails its expectation first (nats-server checks expectations before
// duplicates), a conflict after which the writer finds it applied.
//
// The events are not atomic: a crash can leave the first ones written and
// the rest not. Decisions published this way are written so that deciding
// again from the state the first ones left completes the rest (see the
// inventory's reservations); that is what keeps a file-backed stream fast,
// where an atomic batch is staged on disk by the server.
func (p *Publisher) Publish(ctx context.Context, cause Cause, out ...Outgoing) (uint64, error) {
	return p.publish(ctx, "", cause, out)
}

// publish is Publish for the writer of stream, which tells a conflict with
// the publish's own message from one with another's (storedAlready); ""
// names no stream, and every conflict is one.
func (p *Publisher) publish(ctx context.Context, stream string, cause Cause, out []Outgoing) (uint64, error) {
	if len(out) == 0 {
		return 0, errors.New("publish: no events")
	}
	at := make(map[string]uint64, len(out)) // where this call left each entity
	var seq uint64
	for _, o := range out {
		if o.Expect != nil {
			if s, ok := at[o.Expect.Filter]; ok {
				o.Expect = &Expect{Filter: o.Expect.Filter, Seq: s}
			}
		}
		stored, err := p.publishOne(ctx, stream, cause, o)
		if err != nil {
			return seq, err // how far it got: the writer waits for that too
		}
		seq = stored
		if o.Expect != nil {
			at[o.Expect.Filter] = seq
		}
	}
	return seq, nil
}

func (p *Publisher) publishOne(ctx context.Context, stream string, cause Cause, o Outgoing) (uint64, error) {
	m, err := p.message(cause, o)
	if err != nil {
		return 0, err
	}
	ack, err := p.publishTrying(ctx, m)
	if refusedUnschedule(err) {
		// The schedule's subject holds a message that is not a schedule
		// (one forged there, say), so the server will not purge it: the
		// event is stored without the purge, and the schedule, if any,
		// fires and finds its work done. An event is never refused for
		// what it would have tidied.
		m.Header.Del(jetstream.ScheduleNextHeader)
		m.Header.Del(jetstream.SchedulerHeader)
		ack, err = p.publishTrying(ctx, m)
	}
	if err != nil {
		err = publishError(err)
		if seq, ok := p.storedAlready(ctx, stream, m, err); ok {
			p.wrote(nil)
			return seq, nil
		}
		return 0, p.failed(err)
	}
	p.wrote(nil)
	if !ack.Duplicate {
		p.metrics.ObservePublish(o.Event.EventType())
	}
	return ack.Sequence, nil
}

// publishTrying publishes m, trying again while a try gets no answer.
// Every try is the same message with the same id, so a try whose answer
// was lost is dropped by JetStream as a duplicate (or, guarded, on a single
// server, fails its expectation, which that server checks first: see
// storedAlready). A stream that is not there
// at all answers "no responders" at once, and that is returned (the client
// has tried it again briefly itself).
func (p *Publisher) publishTrying(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
	return untilAnswered(ctx, func(try context.Context) (*jetstream.PubAck, error) {
		return p.js.PublishMsg(try, m)
	})
}

// storedAlready reports whether the message a guarded publish conflicts
// with is the publish's own, and where it is. A try whose answer was lost
// stored it, and a single server checks a message's expectation before its
// id, so the next try is refused as a conflict with it rather than
// answered as a duplicate (a cluster checks the id first). A request sent
// again, with the same cause, meets its own message the same way. Either
// way the message is stored, and the publish has succeeded.
func (p *Publisher) storedAlready(ctx context.Context, stream string, m *nats.Msg, err error) (uint64, bool) {
	var c conflictError
	if stream == "" || !errors.As(err, &c) || c.last == 0 {
		return 0, false
	}
	stored, err := untilAnswered(ctx, func(try context.Context) (*jetstream.RawStreamMsg, error) {
		s, err := p.js.Stream(try, stream)
		if err != nil {
			return nil, err
		}
		return s.GetMsg(try, c.last)
	})
	if err != nil || stored.Header.Get(nats.MsgIdHdr) != m.Header.Get(nats.MsgIdHdr) {
		return 0, false
	}
	return c.last, true
}

// PublishAtomic writes the events as one JetStream atomic batch: all or
// none. On a file-backed stream with one replica the server stages every
// batch in a file store of its own, so this is for rare decisions only.
func (p *Publisher) PublishAtomic(ctx context.Context, cause Cause, out ...Outgoing) (uint64, error) {
	return p.publishAtomic(ctx, "", cause, out)
}

// publishAtomic is PublishAtomic for the writer of stream (publish).
func (p *Publisher) publishAtomic(ctx context.Context, stream string, cause Cause, out []Outgoing) (uint64, error) {
	if len(out) < 2 {
		return p.publish(ctx, stream, cause, out)
	}
	msgs := make([]*nats.Msg, 0, len(out))
	guarded := make(map[string]bool, len(out))
	for _, o := range out {
		// Within a batch an entity's first event carries the expectation;
		// the later ones follow it inside the same atomic write.
		if o.Expect != nil && guarded[o.Expect.Filter] {
			o.Expect = nil
		} else if o.Expect != nil {
			guarded[o.Expect.Filter] = true
		}
		m, err := p.message(cause, o)
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, m)
	}
	ack, err := jetstreamext.PublishMsgBatch(ctx, p.js, msgs)
	if err != nil {
		return 0, p.failed(publishError(err))
	}
	for _, o := range out {
		p.metrics.ObservePublish(o.Event.EventType())
	}
	return ack.Sequence, nil
}

func (p *Publisher) message(cause Cause, o Outgoing) (*nats.Msg, error) {
	m, err := newMsg(p.source, cause, eventID(cause, o), o.Event)
	if err != nil {
		return nil, err
	}
	if o.Expect != nil {
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(o.Expect.Seq, 10))
		m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, o.Expect.Filter)
	}
	return m, nil
}

// eventID names an event by what caused it, where it goes and the position
// it expects. The same decision retried gets the same id, which JetStream
// drops as a duplicate; a decision taken again from newer state gets a new
// one, even for the same subject, and its expectation guards it instead.
func eventID(cause Cause, o Outgoing) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s", cause.ID, o.Event.EventSubject())
	if o.Expect != nil {
		fmt.Fprintf(h, "\x00%s\x00%d", o.Expect.Filter, o.Expect.Seq)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ErrAlreadyStored is how JetStream answers an atomic batch it has already
// stored: the command was applied before, which is success for a retry, but
// the batch's sequence is not known. Writer treats it as success.
var ErrAlreadyStored = errors.New("batch already stored")

// refusedUnschedule reports JetStream's refusal of an Unscheduler's purge.
func refusedUnschedule(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errSchedulerInvalid
}

// errSchedulerInvalid is JetStream's answer to a purge of a subject whose
// last message is not a schedule; nats.go does not name it.
const errSchedulerInvalid = jetstream.ErrorCode(server.JSMessageSchedulesSchedulerInvalidErr)

// errAtomicDuplicate is JetStream's answer to an atomic batch whose
// message ids it has stored already; nats.go does not name it, the
// server's own table does.
const errAtomicDuplicate = jetstream.ErrorCode(server.JSAtomicPublishContainsDuplicateMessageErr)

// failed counts a conflict (an error publishError translated) and remembers a
// store that fails.
func (p *Publisher) failed(err error) error {
	if errors.Is(err, ErrConflict) {
		p.metrics.ObserveConflict()
	}
	p.wrote(err)
	return err
}

func publishError(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			c := conflictError{text: apiErr.Description}
			// "wrong last sequence: 42"; without a number, last stays 0.
			_, _ = fmt.Sscanf(apiErr.Description, "wrong last sequence: %d", &c.last)
			return c
		case errAtomicDuplicate:
			return ErrAlreadyStored
		}
	}
	return fmt.Errorf("%w: %w", ErrWrite, err)
}

// ErrWrite is a write JetStream did not take for a reason of its own: it
// is down, full, or too slow. The command may be tried again later.
var ErrWrite = errors.New("publish failed")

// Guard gives each event the expectation the snapshot it was decided from
// sets: JetStream writes it only if that state is still current. Publish
// moves the expectation of an entity's later events in the same decision
// along with the earlier ones.
func Guard[E Event](evs []E, snap Snapshot) []Outgoing {
	out := make([]Outgoing, 0, len(evs))
	for _, e := range evs {
		expect := snap.Expect(e.EventSubject())
		out = append(out, Outgoing{Event: e, Expect: &expect})
	}
	return out
}
