package ops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
)

// Archiver moves the history of event streams into their archives (ADR
// 25): it copies every event older than After into the stream's archive,
// in order and at the same sequence, then removes from the stream what
// the archive holds, once it is older than After+Overlap and no consumer
// still has it to deliver. It runs as the operator: no service's user may
// remove events from a stream.
//
// It is safe to stop at any point and to run twice at once: each copy
// expects the archive's last sequence, so two archivers never write the
// same event twice, and an event leaves the stream only once the archive
// has it.
type Archiver struct {
	JS jetstream.JetStream
	// After is how old an event is when it is copied to the archive.
	After time.Duration
	// Overlap is how much longer the stream keeps it: a reader that has
	// read the archive to its end then has that long to start reading the
	// stream where the archive ends.
	Overlap time.Duration
	// Most is about how many sequences one round copies at the most (0:
	// DefaultRoundMost; gap markers may take it a little past): a round ends soon, so a stuck one is seen, and
	// Run goes straight on to the next while there is more.
	Most uint64
	Log  zerolog.Logger

	mu sync.Mutex
	// worked is when a round last archived every stream; failing is the
	// error of the last round that did not.
	worked  time.Time
	failing error
}

// DefaultArchiveAfter is how long an event stays in its stream alone: a
// day, far longer than an order takes to end, so what is archived is over.
const DefaultArchiveAfter = 24 * time.Hour

// DefaultRoundMost is how many sequences a round copies at the most:
// seconds of work.
const DefaultRoundMost = 100_000

// roundTimeout bounds a round: a request whose answer was lost with a
// server that went away fails the round, and the next one asks again.
const roundTimeout = time.Minute

// DefaultArchiveOverlap is how long an archived event stays in its stream
// too.
const DefaultArchiveOverlap = 10 * time.Minute

// Round is what one round did to one stream.
type Round struct {
	Stream string
	// Copied events and gap markers (sequences the stream had deleted).
	Copied, Gaps uint64
	// Through is the archive's last sequence after the round.
	Through uint64
	// Removed is how many messages left the stream, and First where it
	// begins now.
	Removed, First uint64
	// HeldBy names the consumer that kept events in the stream, if one did.
	HeldBy string
	// StoppedAt names the timer still scheduled that the copy stopped at.
	StoppedAt string
	// Full says the round copied all it may (Most): there is more.
	Full bool
}

// Archive runs one round on stream: copy, then remove.
func (a *Archiver) Archive(ctx context.Context, stream string) (Round, error) {
	out := Round{Stream: stream}
	live, err := a.JS.Stream(ctx, stream)
	if err != nil {
		return out, fmt.Errorf("archive %s: %w", stream, err)
	}
	archive, err := mesh.OpenArchive(ctx, a.JS, live)
	if err != nil {
		return out, fmt.Errorf("archive %s: %w", stream, err)
	}
	out.Through = archive.CachedInfo().State.LastSeq
	if err := a.copyHistory(ctx, live, &out); err != nil {
		return out, err
	}
	return out, a.remove(ctx, live, &out)
}

// ArchiveAll runs rounds on stream until one has copied all there is to
// copy, and adds up what they did: what `shopmesh archive` does once.
func (a *Archiver) ArchiveAll(ctx context.Context, stream string) (Round, error) {
	var all Round
	for {
		done, err := a.Archive(ctx, stream)
		all.Copied, all.Gaps, all.Removed = all.Copied+done.Copied, all.Gaps+done.Gaps, all.Removed+done.Removed
		all.Stream, all.Through, all.First, all.HeldBy, all.StoppedAt = done.Stream, done.Through, done.First, done.HeldBy, done.StoppedAt
		if err != nil || !done.Full {
			return all, err
		}
	}
}

// copyBatch is how many copies a round sends before it waits for the
// archive's acknowledgements.
const copyBatch = 1024

// copyHistory appends to the archive, in order, every event of live after
// what it holds that is older than After, with a gap marker for every
// sequence the stream deleted. It stops at a timer still scheduled: that
// is not history yet, whatever its age.
func (a *Archiver) copyHistory(ctx context.Context, live jetstream.Stream, out *Round) error {
	state := live.CachedInfo().State
	if out.Through >= state.LastSeq {
		return nil
	}
	cutoff := time.Now().Add(-a.After)
	// Events are stored in time order: if the first to copy is young, all
	// are, and no consumer is made (a round of a shop without history
	// leaves no trace on the server).
	if young, err := storedSince(ctx, live, max(out.Through+1, state.FirstSeq), cutoff); young || err != nil {
		return err
	}
	c, err := live.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: out.Through + 1,
		NamePrefix: ownConsumer(), InactiveThreshold: ownConsumerIdle,
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", out.Stream, err)
	}
	defer drop(live, c)
	w := &archiveWriter{js: a.JS, out: out}
	most := cmp.Or(a.Most, DefaultRoundMost)
	for more := true; more; {
		done := out.Copied + out.Gaps
		if done >= most {
			out.Full = true
			return nil
		}
		batch, err := c.Fetch(int(min(copyBatch, most-done)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("archive %s: %w", out.Stream, err)
		}
		more, err = w.copyBatch(ctx, batch, cutoff)
		if err := errors.Join(err, batch.Error(), w.flush(ctx)); err != nil {
			return fmt.Errorf("archive %s: %w", out.Stream, err)
		}
	}
	return nil
}

// archiveWriter appends copies to an archive, at most copyBatch of them
// unacknowledged.
type archiveWriter struct {
	js      jetstream.JetStream
	out     *Round
	pending []jetstream.PubAckFuture
}

// copyBatch copies the events of batch older than cutoff, and says
// whether there may be more to copy after it.
func (w *archiveWriter) copyBatch(ctx context.Context, batch jetstream.MessageBatch, cutoff time.Time) (bool, error) {
	read := 0
	for m := range batch.Messages() {
		read++
		meta, err := m.Metadata()
		if err != nil {
			return false, err
		}
		if !meta.Timestamp.Before(cutoff) {
			return false, nil // the rest is younger
		}
		if m.Headers().Get(jetstream.ScheduleHeader) != "" {
			w.out.StoppedAt = fmt.Sprintf("%s at %d", m.Subject(), meta.Sequence.Stream)
			return false, nil
		}
		for gap := w.out.Through + 1; gap < meta.Sequence.Stream; gap++ {
			if err := w.append(ctx, &nats.Msg{}, gap); err != nil {
				return false, err
			}
			w.out.Gaps++
		}
		if err := w.append(ctx, archiveCopy(m, meta), meta.Sequence.Stream); err != nil {
			return false, err
		}
		w.out.Copied++
		if meta.NumPending == 0 {
			return false, nil // the stream's end: the fetch would wait out its time
		}
	}
	return read > 0, nil
}

// append publishes m to the archive at sequence seq: it expects the
// archive to end just before, so the archive's sequences stay the
// stream's, and a second archiver's copy is refused.
func (w *archiveWriter) append(ctx context.Context, m *nats.Msg, seq uint64) error {
	m.Subject = mesh.ArchiveSubject(w.out.Stream)
	f, err := w.js.PublishMsgAsync(m, jetstream.WithExpectLastSequence(seq-1))
	if err != nil {
		return fmt.Errorf("seq %d: %w", seq, err)
	}
	w.pending = append(w.pending, f)
	w.out.Through = seq
	if len(w.pending) >= copyBatch {
		return w.flush(ctx)
	}
	return nil
}

// flush waits for every copy's acknowledgement, in order.
func (w *archiveWriter) flush(ctx context.Context) error {
	defer func() { w.pending = w.pending[:0] }()
	for _, f := range w.pending {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// archiveCopy is the archive's copy of an event: its body and headers, and
// where and when the stream stored it. The stream's own directives (a
// message id, expectations, a schedule's purge) are dropped: they were the
// stream's to act on, and they are done.
func archiveCopy(m jetstream.Msg, meta *jetstream.MsgMetadata) *nats.Msg {
	h := nats.Header{}
	for k, v := range m.Headers() {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = v
		}
	}
	h.Set(mesh.HeaderArchivedSubject, m.Subject())
	h.Set(mesh.HeaderArchivedStored, meta.Timestamp.UTC().Format(time.RFC3339Nano))
	return &nats.Msg{Header: h, Data: m.Data()}
}

// remove purges from live what the archive holds, older than
// After+Overlap, that no consumer has still to deliver.
func (a *Archiver) remove(ctx context.Context, live jetstream.Stream, out *Round) error {
	info, err := live.Info(ctx)
	if err != nil {
		return fmt.Errorf("archive %s: %w", out.Stream, err)
	}
	out.First = info.State.FirstSeq
	upTo := out.Through + 1 // the first sequence the archive lacks
	if upTo <= info.State.FirstSeq {
		return nil // the stream holds nothing the archive has
	}
	young, err := a.firstYoungerThan(ctx, live, info.State.FirstSeq, a.After+a.Overlap)
	if err != nil {
		return err
	}
	upTo = min(upTo, young)
	held, by, err := heldBack(ctx, live)
	if err != nil {
		return err
	}
	if held < upTo {
		upTo, out.HeldBy = held, by
	}
	if upTo <= info.State.FirstSeq {
		return nil
	}
	if err := live.Purge(ctx, jetstream.WithPurgeSequence(upTo)); err != nil {
		return fmt.Errorf("archive %s: remove before %d: %w", out.Stream, upTo, err)
	}
	after, err := live.Info(ctx)
	if err != nil {
		return fmt.Errorf("archive %s: %w", out.Stream, err)
	}
	out.Removed = info.State.Msgs - min(info.State.Msgs, after.State.Msgs)
	out.First = after.State.FirstSeq
	return nil
}

// firstYoungerThan is the sequence of live's first message stored less
// than age ago; past its last sequence if none is. first is where the
// stream begins: if that message is young, no consumer is needed.
func (a *Archiver) firstYoungerThan(ctx context.Context, live jetstream.Stream, first uint64, age time.Duration) (uint64, error) {
	since := time.Now().Add(-age)
	if young, err := storedSince(ctx, live, first, since); young || err != nil {
		return first, err
	}
	c, err := live.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
		NamePrefix: ownConsumer(), InactiveThreshold: ownConsumerIdle,
	})
	if err != nil {
		return 0, fmt.Errorf("archive %s: %w", live.CachedInfo().Config.Name, err)
	}
	defer drop(live, c)
	if c.CachedInfo().NumPending == 0 {
		return live.CachedInfo().State.LastSeq + 1, nil // none is that young
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil { // not "none is young": removing on a guess could pass the overlap
		return 0, fmt.Errorf("archive %s: %w", live.CachedInfo().Config.Name, err)
	}
	meta, err := m.Metadata()
	if err != nil {
		return 0, err
	}
	return meta.Sequence.Stream, nil
}

// ownConsumers begins the names of the archiver's own consumers, which
// heldBack passes over: nats.go may make an ordered consumer again
// under a new name while a round reads, and the one drop deletes may not
// be the last. ownConsumerIdle is how soon the server removes one left
// behind.
const (
	ownConsumers    = "shopmesh_archiver_"
	ownConsumerIdle = 10 * time.Second
)

// ownConsumer names one of the archiver's consumers: nats.go names an
// ordered consumer after its prefix and a count from 1, so each needs a
// prefix of its own, or two rounds (or two archivers) would share one.
func ownConsumer() string { return ownConsumers + nuid.Next() }

// storedSince says whether the message at seq was stored at or after t;
// false where there is none (deleted since), so that the caller looks
// closer.
func storedSince(ctx context.Context, live jetstream.Stream, seq uint64, t time.Time) (bool, error) {
	m, err := live.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("archive %s: %w", live.CachedInfo().Config.Name, err)
	}
	return !m.Time.Before(t), nil
}

// drop deletes an archiver's own consumer at once, rather than when the
// server finds it idle.
func drop(live jetstream.Stream, c jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = live.DeleteConsumer(ctx, c.CachedInfo().Name)
}

// heldBack is the first sequence a consumer of live may still deliver (a
// reaction that is behind, a replica reading the stream after its
// archive), and the consumer's name; past every sequence when none is
// behind. Nothing a consumer has yet to deliver leaves the stream. Each
// consumer is asked on its own: a cluster's list leaves out a consumer
// whose leader did not answer in time, and nats.go drops the list's note
// of which, so a consumer that cannot be asked stops the removal.
func heldBack(ctx context.Context, live jetstream.Stream) (uint64, string, error) {
	held, by := uint64(1<<63), ""
	names := live.ConsumerNames(ctx)
	for name := range names.Name() {
		if strings.HasPrefix(name, ownConsumers) {
			continue // the archiver's own: they read, and hold back nothing
		}
		c, err := live.Consumer(ctx, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue // gone since the list: it delivers nothing more
		}
		if err != nil {
			return 0, "", fmt.Errorf("archive %s: consumer %s: %w", live.CachedInfo().Config.Name, name, err)
		}
		info := c.CachedInfo()
		if caughtUp(info) {
			continue
		}
		if next := info.AckFloor.Stream + 1; next < held {
			held, by = next, name
		}
	}
	if err := names.Err(); err != nil {
		return 0, "", fmt.Errorf("archive %s: consumers: %w", live.CachedInfo().Config.Name, err)
	}
	return held, by, nil
}

// caughtUp says a consumer has nothing left to deliver below the stream's
// end. A consumer of the whole stream (a projection) has delivered up to
// its ack floor, and holds back nothing above it; its count of pending
// messages is not trusted, since the server updates it after a message is
// stored, and a message archived at once could be removed in between. A
// consumer of some subjects (a reaction) holds back from its ack floor
// while it has any message pending; its floor stays where its last
// matching message was.
func caughtUp(c *jetstream.ConsumerInfo) bool {
	filtered := c.Config.FilterSubject != "" || len(c.Config.FilterSubjects) > 0
	return filtered && c.NumPending == 0 && c.NumAckPending == 0 && c.NumRedelivered == 0
}

// Run archives streams now and then every interval until ctx ends, and
// logs what each round did. A round that fails is tried at the next.
func (a *Archiver) Run(ctx context.Context, streams []string, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	a.mu.Lock()
	a.worked = time.Now() // none has failed yet
	a.mu.Unlock()
	for {
		var failed error
		full := false
		for _, s := range streams {
			done, err := a.round(ctx, s)
			failed, full = errors.Join(failed, err), full || done.Full
		}
		a.mu.Lock()
		if a.failing = failed; failed == nil {
			a.worked = time.Now()
		}
		a.mu.Unlock()
		if full && ctx.Err() == nil {
			continue // more to copy now: a backlog is not left for the next tick
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Problem says why Run has not archived every stream for longer than
// within: the error of its last round. A round can fail now and then (a
// server restarting); an archiver that fails for long lets the streams
// grow, and says so.
func (a *Archiver) Problem(within time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failing == nil || time.Since(a.worked) <= within {
		return nil
	}
	return fmt.Errorf("no round has archived every stream since %s: %w", a.worked.UTC().Format(time.RFC3339), a.failing)
}

// round archives stream once and logs what it did.
func (a *Archiver) round(ctx context.Context, stream string) (Round, error) {
	roundCtx, cancel := context.WithTimeout(ctx, roundTimeout)
	defer cancel()
	done, err := a.Archive(roundCtx, stream)
	if err != nil {
		if ctx.Err() == nil {
			a.Log.Warn().Err(err).Str("stream", stream).Msg("archive round failed; trying again at the next")
		}
		return done, err
	}
	if done.Copied+done.Gaps+done.Removed == 0 && done.HeldBy == "" && done.StoppedAt == "" {
		return done, nil
	}
	ev := a.Log.Info().Str("stream", stream).Uint64("copied", done.Copied).Uint64("gaps", done.Gaps).
		Uint64("archived_through", done.Through).Uint64("removed", done.Removed).Uint64("first", done.First)
	if done.HeldBy != "" {
		ev = ev.Str("held_by", done.HeldBy)
	}
	if done.StoppedAt != "" {
		ev = ev.Str("stopped_at_timer", done.StoppedAt)
	}
	ev.Msg("archived")
	return done, nil
}
