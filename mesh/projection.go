package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/subject"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Projector applies one event to a service's local state. It runs inside the
// bbolt transaction that also records the event's stream sequence, so every
// event is applied exactly once. It returns the read-model views the event
// changed.
type Projector interface {
	Apply(tx *bolt.Tx, e Envelope) ([]View, error)
}

var (
	bucketPositions = []byte("_positions")
	// bucketEntities holds, per entity (a subject's first three tokens),
	// the sequence of the last message on its subjects, of whatever type:
	// what a write expects (Positions).
	bucketEntities = []byte("_entities")
	bucketOutbox   = []byte("_outbox")
	// bucketOldOutbox held the outbox in JSON alone, before its entries
	// began with their sequence; it is dropped at start.
	bucketOldOutbox = []byte("_views")
)

// maxBatch bounds how many events share one bbolt transaction: one fsync
// then covers many events, which is most of the write path's speed. A
// batch takes only what has arrived, so under a steady load batches are
// small; a replay (a rebuild, a replica catching up) fills them. There,
// 4,096 rather than 512 took about a tenth less CPU: fewer commits, and
// more of each page's keys written at once (docs/performance.md).
const maxBatch = 4096

// Projection keeps a bbolt file current with one or more streams.
type Projection struct {
	// Index marks a projection that only indexes events for queries (a
	// timeline): no decision reads its state, so it keeps no entity
	// positions, which saves a write per event.
	Index     bool
	db        *bolt.DB
	js        jetstream.JetStream
	streams   []string
	projector Projector
	views     *Views
	log       zerolog.Logger
	// service and metrics name the projection in the metrics; Node.Project
	// sets them.
	service string
	metrics *observe.Metrics
	// snapshots, when set, is where the projection keeps a snapshot of its
	// file, taken when it has applied enough since the last one
	// (snapshotDue); Node.Project sets it. SnapshotMin is the fewest
	// events between two snapshots (0: DefaultSnapshotMin).
	snapshots   *Snapshots
	SnapshotMin uint64
	// covered is how many events the last snapshot covered; busy is set
	// while one is taken; retryAt is when to try again after one failed.
	covered      atomic.Uint64
	retryAt      atomic.Int64
	snapshotting sync.WaitGroup
	busy         atomic.Bool

	in chan jetstream.Msg
	// replaying runs while a stream's archive is read (replayArchive).
	replaying sync.WaitGroup
	mu        sync.Mutex
	// applied is, per stream, the last sequence in the bbolt file: what
	// decisions read. visible is the last one whose views are published
	// too: what readers of the read model see.
	applied map[string]uint64
	visible map[string]uint64
	changed chan struct{}
	targets map[string]uint64
	// firsts are where each stream began at start or at the last
	// catch-up (archiveApplied).
	firsts  map[string]uint64
	flushed map[string]uint64
	// unpublished are views KV refused for now; the outbox keeps them too.
	unpublished map[string]viewRecord
	failure     error
	// trouble is why the last batch could not commit; it is tried again.
	trouble error
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewProjection projects streams through p into db. views may be nil when
// the projection has no KV read model.
func NewProjection(db *bolt.DB, js jetstream.JetStream, streams []string, p Projector, views *Views, log zerolog.Logger) *Projection {
	return &Projection{
		db: db, js: js, streams: streams, projector: p, views: views, log: log,
		in:      make(chan jetstream.Msg, maxBatch*2),
		applied: make(map[string]uint64),
		visible: make(map[string]uint64),
		changed: make(chan struct{}),
		targets: make(map[string]uint64),
		firsts:  make(map[string]uint64),
		flushed: make(map[string]uint64),

		unpublished: make(map[string]viewRecord),
	}
}

// Start resumes every stream after the last applied sequence and applies
// events until ctx ends or Stop is called.
func (p *Projection) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	if err := p.checkOrigins(ctx); err != nil {
		return err
	}
	if err := p.loadPositions(); err != nil {
		return err
	}
	if err := p.flushOutbox(ctx); err != nil {
		return err
	}
	for _, stream := range p.streams {
		if err := p.follow(ctx, stream); err != nil {
			return err
		}
	}
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		p.run(ctx)
	}()
	return nil
}

// Stop stops applying events and returns once no transaction is running, so
// the bbolt file can be closed.
func (p *Projection) Stop() {
	if p.cancel != nil {
		p.cancel()
	}
	if p.done != nil {
		<-p.done
	}
	p.replaying.Wait()
}

// bucketOrigins holds when each projected stream was created: a stream of
// the same name created at another time is another stream.
var bucketOrigins = []byte("_origins")

// checkOrigins empties the local state when it was not projected from
// these streams: it is ahead of a stream, or it comes from a stream created
// at another time (a data directory used with another server, a stream
// deleted and made again). The projection then rebuilds it, and says why.
func (p *Projection) checkOrigins(ctx context.Context) error {
	infos := make(map[string]*jetstream.StreamInfo, len(p.streams))
	for _, name := range p.streams {
		s, err := p.js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("projection stream %s: %w", name, err)
		}
		infos[name] = s.CachedInfo()
	}
	return p.db.Update(func(tx *bolt.Tx) error {
		if why := foreignState(tx, infos); why != "" {
			p.log.Warn().Str("why", why).Msg("local state is not from these streams; rebuilding it from them")
			if err := emptyState(tx); err != nil {
				return err
			}
		}
		origins, err := tx.CreateBucketIfNotExists(bucketOrigins)
		if err != nil {
			return err
		}
		for name, info := range infos {
			if err := origins.Put([]byte(name), []byte(info.Created.UTC().Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		return nil
	})
}

// foreignState says why the state in tx cannot come from the streams, or
// returns "".
func foreignState(tx *bolt.Tx, infos map[string]*jetstream.StreamInfo) string {
	for name, info := range infos {
		if applied := Position(tx, name); applied > info.State.LastSeq {
			return fmt.Sprintf("it has applied %s up to %d, but the stream ends at %d", name, applied, info.State.LastSeq)
		}
		created := info.Created.UTC().Format(time.RFC3339Nano)
		if b := tx.Bucket(bucketOrigins); b != nil {
			if was := b.Get([]byte(name)); was != nil && string(was) != created {
				return fmt.Sprintf("it comes from the %s stream created at %s; this one was created at %s", name, was, created)
			}
		}
	}
	return ""
}

// emptyState empties every bucket but the schema version's, keeping the
// buckets, which the service made at start and expects to find.
func emptyState(tx *bolt.Tx) error {
	names, err := bucketNames(tx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if bytes.Equal(n, bucketMeta) {
			continue
		}
		if err := tx.DeleteBucket(n); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(n); err != nil {
			return err
		}
	}
	return nil
}

func (p *Projection) loadPositions() error {
	return p.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPositions)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketOutbox); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketEntities); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketOldOutbox); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		for _, s := range p.streams {
			p.applied[s] = decodeUint(b.Get([]byte(s)))
			p.visible[s] = p.applied[s] // flushOutbox publishes what was not
		}
		if total(p.applied) == 0 { // built from the first event (ADR 22)
			return newGeneration(tx)
		}
		return nil
	})
}

func (p *Projection) follow(ctx context.Context, stream string) error {
	s, err := p.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("projection stream %s: %w", stream, err)
	}
	state := s.CachedInfo().State
	p.targets[stream] = state.LastSeq
	p.firsts[stream] = state.FirstSeq
	from := p.applied[stream] + 1
	if from >= state.FirstSeq {
		return p.consume(ctx, s, from)
	}
	// The stream no longer holds where the projection stands: what it
	// lacks is in its archive (ADR 25), read first, in the background.
	p.replaying.Go(func() { p.replayArchive(ctx, s, from) })
	return nil
}

// replayArchive reads the stream's archive from seq from, then follows the
// stream where the archive ends. The archiver copies events before it
// removes them from the stream, so an event the stream no longer holds is
// in the archive by the time the stream's first sequence has passed it:
// the archive is read again until it reaches the stream, or has nothing
// more (the rest were deleted, not archived).
func (p *Projection) replayArchive(ctx context.Context, s jetstream.Stream, from uint64) {
	p.untilDone(ctx, func() error {
		next, err := p.readUpToStream(ctx, s, from)
		from = max(from, next)
		if err != nil {
			return err
		}
		return p.consume(ctx, s, from)
	})
}

// untilDone calls f until it works or ctx ends, with a pause that grows
// from 100 ms to 10 s: reading an archive fails only for a while (a
// leader being elected), and the projection is not ready meanwhile.
func (p *Projection) untilDone(ctx context.Context, f func() error) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		err := f()
		if err == nil || ctx.Err() != nil {
			return
		}
		p.log.Warn().Err(err).Msg("cannot read the stream's archive yet; trying again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// readUpToStream reads the archive from seq from until the stream holds
// what comes next, and returns that sequence.
func (p *Projection) readUpToStream(ctx context.Context, s jetstream.Stream, from uint64) (uint64, error) {
	for idle := 0; idle < 2; {
		next, err := readArchive(ctx, p.js, s, from, math.MaxUint64, p.deliver(ctx))
		if err != nil {
			return from, err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return next, err
		}
		if next >= info.State.FirstSeq {
			return next, nil
		}
		if next == from {
			idle++
		}
		from = next
	}
	return from, nil
}

// deliver hands a message to the projection's batches.
func (p *Projection) deliver(ctx context.Context) func(jetstream.Msg) error {
	return func(m jetstream.Msg) error {
		select {
		case p.in <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// consume follows stream s from seq from. If the first event it delivers
// comes after from, what lies between was deleted, or archived and
// removed while the consumer was being made (the archiver holds back only
// for the consumers it saw): it is read from the archive first.
func (p *Projection) consume(ctx context.Context, s jetstream.Stream, from uint64) error {
	stream := s.CachedInfo().Config.Name
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	c, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("projection consumer %s: %w", stream, err)
	}
	deliver, first := p.deliver(ctx), true
	cc, err := c.Consume(func(m jetstream.Msg) {
		if first {
			first = false
			p.fillFromArchive(ctx, s, from, m)
		}
		_ = deliver(m)
	}, jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		return fmt.Errorf("projection consume %s: %w", stream, err)
	}
	context.AfterFunc(ctx, cc.Stop)
	return nil
}

// fillFromArchive delivers what the archive holds from seq from to just
// before m, trying again until ctx ends.
func (p *Projection) fillFromArchive(ctx context.Context, s jetstream.Stream, from uint64, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil || meta.Sequence.Stream <= from {
		return
	}
	p.untilDone(ctx, func() error {
		next, err := readArchive(ctx, p.js, s, from, meta.Sequence.Stream-1, p.deliver(ctx))
		from = next
		return err
	})
}

// outboxRetry is how often views that could not be published are tried
// again while the projection runs.
const outboxRetry = 5 * time.Second

// run applies batches of events; a second goroutine publishes their views
// meanwhile, so the next batch is applied while the read model catches up.
func (p *Projection) run(ctx context.Context) {
	// Snapshots start from the views' goroutine too: waited for last.
	defer p.snapshotting.Wait()
	published := make(chan appliedBatch, 64)
	var views sync.WaitGroup
	views.Go(func() { p.runViews(ctx, published) })
	defer views.Wait()
	defer close(published)
	// Where the kept snapshot stands is learnt in the background: the
	// bucket may be slow to answer, and applying must not wait for it.
	p.busy.Store(true)
	p.snapshotting.Go(func() {
		p.startSnapshots(ctx)
		p.busy.Store(false)
		p.maybeSnapshot(ctx, p.positions()) // what was applied meanwhile
	})
	for {
		select {
		case <-ctx.Done():
			p.halt(ctx.Err())
			return
		case m := <-p.in:
			applied, err := p.applyUntilDone(ctx, p.drain(m))
			if err != nil {
				p.halt(err)
				return
			}
			published <- applied
		}
	}
}

// applyUntilDone applies a batch, trying again with a growing pause while
// the transaction cannot commit (a full disk, say): the projection stops
// only with ctx, and is not ready meanwhile.
func (p *Projection) applyUntilDone(ctx context.Context, batch []jetstream.Msg) (appliedBatch, error) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		applied, err := p.applyBatch(ctx, batch)
		p.setTrouble(err)
		if err == nil {
			return applied, nil
		}
		p.log.Error().Err(err).Float64("retry_in_ms", observe.Millis(wait)).Msg("projection cannot commit; trying again")
		select {
		case <-ctx.Done():
			return appliedBatch{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// appliedBatch is what one transaction applied: the views it changed and
// the positions it reached.
type appliedBatch struct {
	views     map[string]viewRecord
	positions map[string]uint64
}

// runViews publishes each applied batch's views, in order, then tells
// waiting readers; it retries what KV refused every outboxRetry.
func (p *Projection) runViews(ctx context.Context, applied <-chan appliedBatch) {
	tick := time.NewTicker(outboxRetry)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			p.publishViews(ctx, p.takeUnpublished())
		case b, ok := <-applied:
			if !ok {
				return
			}
			p.publishViews(ctx, b.views)
			p.advance(p.visible, b.positions)
			// Once the views have caught up, the outbox is nearly
			// empty: a snapshot then carries few views to publish again.
			p.maybeSnapshot(ctx, b.positions)
		}
	}
}

// indexDelay is how long an index projection gathers events before it
// commits them: no decision waits on it, and one commit for many events
// costs a fraction of one commit each.
const indexDelay = 100 * time.Millisecond

func (p *Projection) drain(first jetstream.Msg) []jetstream.Msg {
	batch := []jetstream.Msg{first}
	var gathered <-chan time.Time
	if p.Index {
		gathered = time.After(indexDelay)
	}
	for len(batch) < maxBatch {
		if p.Index { // wait for more, up to indexDelay
			select {
			case m := <-p.in:
				batch = append(batch, m)
			case <-gathered:
				return batch
			}
			continue
		}
		select { // take only what is there now
		case m := <-p.in:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// applyBatch applies events in one transaction and tells waiting decisions.
// An event the projector cannot apply is set aside (setAside) and the batch
// applied again without it: one bad message never stops the projection.
func (p *Projection) applyBatch(ctx context.Context, batch []jetstream.Msg) (appliedBatch, error) {
	skip := map[msgKey]bool{}
	for {
		positions := p.positions()
		var views map[string]viewRecord
		err := p.db.Update(func(tx *bolt.Tx) error {
			p.clearFlushed(tx)
			var err error
			views, err = p.applyAll(tx, batch, positions, skip)
			return err
		})
		var bad unappliable
		if errors.As(err, &bad) {
			if err := p.setAside(ctx, bad); err != nil {
				return appliedBatch{}, err
			}
			skip[bad.key()] = true
			continue
		}
		if err != nil {
			return appliedBatch{}, err
		}
		p.metrics.ObserveCommit(p.service, len(batch), !p.db.NoSync)
		p.advance(p.applied, positions)
		return appliedBatch{views: views, positions: positions}, nil
	}
}

// unappliable is an event the projector refused: malformed, or breaking a
// rule of the local state. No retry can change that.
type unappliable struct {
	msg jetstream.Msg
	env Envelope
	err error
}

func (u unappliable) Error() string {
	return fmt.Sprintf("apply %s seq %d: %v", u.env.Subject, u.env.Sequence, u.err)
}

func (u unappliable) key() msgKey { return msgKey{u.env.Stream, u.env.Sequence} }

// msgKey names a message of one of the projection's streams.
type msgKey struct {
	stream string
	seq    uint64
}

// setAside parks an event the projection cannot apply in the dead-letter
// stream, with the reason, before the projection moves past it: it is
// kept for an operator (shopmesh dlq list), and counted.
func (p *Projection) setAside(ctx context.Context, bad unappliable) error {
	source, consumer := "mesh", "projection" // a projection outside a node
	if p.service != "" {
		source, consumer = p.service, p.service+"-projection"
	}
	dl := deadLetterMsg(bad.msg, bad.env, source, consumer, bad.err)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, dl); err != nil {
		return fmt.Errorf("set aside %s seq %d: %w", bad.env.Stream, bad.env.Sequence, err)
	}
	p.log.Error().Err(bad.err).Str("subject", bad.env.Subject).Uint64("seq", bad.env.Sequence).
		Msg("event set aside: the projection cannot apply it; it is in the dead-letter stream")
	p.metrics.ObserveSetAside(p.service)
	return nil
}

// appliedTo is how far the local state has applied stream.
func (p *Projection) appliedTo(stream string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applied[stream]
}

func (p *Projection) positions() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]uint64, len(p.applied))
	for k, v := range p.applied {
		out[k] = v
	}
	return out
}

func (p *Projection) applyAll(tx *bolt.Tx, batch []jetstream.Msg, positions map[string]uint64, skip map[msgKey]bool) (map[string]viewRecord, error) {
	changed := make(map[string]changedView)
	// While Changes has readers, every state a key passes through in the
	// batch is kept for them; the bucket gets only the latest.
	followed := p.views != nil && p.views.followed()
	entities := tx.Bucket(bucketEntities)
	for _, m := range batch {
		env, err := fromJetStream(m)
		if err != nil {
			return nil, err
		}
		if env.Sequence <= positions[env.Stream] {
			continue // already applied before a restart or a consumer reset
		}
		if !skip[msgKey{env.Stream, env.Sequence}] {
			views, err := p.projector.Apply(tx, env)
			if err == nil {
				err = checkViewKeys(views)
			}
			if err != nil {
				return nil, unappliable{msg: m, env: env, err: err}
			}
			for _, v := range views {
				c := changed[v.Key]
				if followed && c.seq != 0 {
					c.earlier = append(c.earlier, c.viewStep)
				}
				c.viewStep = viewStep{seq: env.Sequence, value: v.Value, history: env.Sequence <= p.targets[env.Stream], at: unixNano(env.Stored)}
				changed[v.Key] = c
			}
		}
		// Whatever the message was, applied, unknown or set aside, its
		// entity's subjects moved: the next write expects that. Only a
		// four-token subject is on an entity's subjects ("<entity>.*"). An
		// index decides nothing, so it keeps no positions.
		if !p.Index && strings.Count(env.Subject, ".") == 3 {
			if err := entities.Put([]byte(subject.Entity(env.Subject)), encodeUint(env.Sequence)); err != nil {
				return nil, err
			}
		}
		positions[env.Stream] = env.Sequence
	}
	b := tx.Bucket(bucketPositions)
	for stream, seq := range positions {
		if err := b.Put([]byte(stream), encodeUint(seq)); err != nil {
			return nil, err
		}
	}
	return toOutbox(tx, changed)
}

// checkViewKeys refuses views that could never be stored: an event whose
// view has no key, or one the bucket cannot take (an entity id missing
// from its body, say), is set aside like any event that cannot be applied.
// Found in the outbox's commit instead, it failed every batch for good.
func checkViewKeys(views []View) error {
	for _, v := range views {
		if !validViewKey(v.Key) {
			return fmt.Errorf("its view's key %q is not a valid key", v.Key)
		}
	}
	return nil
}

// changedView is the latest view of a key in a batch, and the views it
// passed through before it in the batch, kept only for readers of Changes.
type changedView struct {
	viewStep
	earlier []viewStep
}

// viewStep is a view and the sequence of the event that made it, whether
// that event is history (the stream held it when the projection started),
// and when the stream stored it.
type viewStep struct {
	seq     uint64
	value   any
	history bool
	at      int64
}

// unixNano is t in Unix nanoseconds, 0 for a time not known.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// toOutbox encodes each changed view once, however many events of the
// batch changed it, and records it in the outbox in the same transaction.
// An outbox entry is the view's sequence (8 bytes), then its record, so
// clearing it needs no decoding. The earlier views are encoded only for
// Changes: the outbox and the bucket never hold them.
func toOutbox(tx *bolt.Tx, changed map[string]changedView) (map[string]viewRecord, error) {
	outbox := tx.Bucket(bucketOutbox)
	views := make(map[string]viewRecord, len(changed))
	for key, c := range changed {
		rec, err := newViewRecord(c.viewStep)
		if err != nil {
			return nil, err
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		if err := outbox.Put([]byte(key), append(encodeUint(rec.Seq), data...)); err != nil {
			return nil, err
		}
		for _, e := range c.earlier {
			step, err := newViewRecord(e)
			if err != nil {
				return nil, err
			}
			rec.earlier = append(rec.earlier, step)
		}
		views[key] = rec
	}
	return views, nil
}

func newViewRecord(s viewStep) (viewRecord, error) {
	if s.value == nil {
		return viewRecord{Seq: s.seq, Deleted: true, history: s.history, At: s.at}, nil
	}
	data, err := json.Marshal(s.value)
	if err != nil {
		return viewRecord{}, fmt.Errorf("encode view: %w", err)
	}
	return viewRecord{Seq: s.seq, View: data, history: s.history, At: s.at}, nil
}

// publishViews writes the changed views to KV, several keys at once: each
// write is a round trip, and done one after another they were the write
// path's first bottleneck. Each view is also in the bbolt outbox, so one
// lost here (a crash, NATS away) is written again at the next start; it
// retries for a while before leaving it to that.
func (p *Projection) publishViews(ctx context.Context, views map[string]viewRecord) {
	if p.views == nil {
		return
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, viewWriters)
	for key, rec := range views {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			p.publishView(ctx, key, rec)
		})
	}
	wg.Wait()
}

// viewWriters bounds the KV writes in flight from one projection.
const viewWriters = 32

func (p *Projection) publishView(ctx context.Context, key string, rec viewRecord) {
	var wrote bool
	err := retry(ctx, 5, func() error {
		var err error
		if wrote, err = p.views.put(ctx, key, rec); wrote {
			p.metrics.ObserveViewWrite(p.views.kv.Bucket())
		}
		return err
	})
	// In the bucket, by this replica or another. A view published again
	// after KV refused it is not sent if the bucket has a later one of its
	// key: that one may have been sent meanwhile, and forgotten since.
	if err == nil && (wrote || !rec.retried || !p.views.hasLater(key, rec.Seq)) {
		for _, e := range rec.earlier {
			p.views.show(key, e)
		}
		p.views.show(key, rec)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil { // stopping is no error: the outbox has it
			p.log.Error().Err(err).Str("key", key).Msg("view not published yet; kept in the outbox")
		}
		p.unpublished[key] = rec
		return
	}
	p.flushed[key] = rec.Seq
}

// takeUnpublished returns the views that failed to publish, to try again;
// a newer view of the same key published meanwhile makes the retry a no-op.
func (p *Projection) takeUnpublished() map[string]viewRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.unpublished
	p.unpublished = make(map[string]viewRecord)
	for key, rec := range out {
		rec.retried = true
		out[key] = rec
	}
	return out
}

// clearFlushed removes outbox entries already in KV, unless a newer view of
// the same key replaced them meanwhile.
func (p *Projection) clearFlushed(tx *bolt.Tx) {
	p.mu.Lock()
	defer p.mu.Unlock()
	outbox := tx.Bucket(bucketOutbox)
	for key, seq := range p.flushed {
		if v := outbox.Get([]byte(key)); v != nil && decodeUint(v[:min(8, len(v))]) <= seq {
			_ = outbox.Delete([]byte(key))
		}
	}
	clear(p.flushed)
}

func (p *Projection) flushOutbox(ctx context.Context) error {
	views, err := p.readOutbox()
	if err != nil {
		return fmt.Errorf("read view outbox: %w", err)
	}
	p.publishViews(ctx, views)
	return nil
}

// readOutbox returns the views left in the outbox: made before this start,
// so history.
func (p *Projection) readOutbox() (map[string]viewRecord, error) {
	views := make(map[string]viewRecord)
	err := p.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var rec viewRecord
			if len(v) < 8 {
				return fmt.Errorf("outbox entry %s: %d bytes", k, len(v))
			}
			if err := json.Unmarshal(v[8:], &rec); err != nil {
				return err
			}
			rec.history = true
			views[string(k)] = rec
			return nil
		})
	})
	return views, err
}

// advance moves a watermark (applied or visible) and wakes every waiter.
func (p *Projection) advance(mark, positions map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	maps.Copy(mark, positions)
	close(p.changed)
	p.changed = make(chan struct{})
}

// setTrouble records why the last batch could not commit, or clears it.
func (p *Projection) setTrouble(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trouble = err
}

// halt marks the projection stopped (its service is stopping) and wakes
// every waiting writer, who gets ErrProjectionStopped instead of waiting for
// its own deadline.
func (p *Projection) halt(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failure = err
	close(p.changed)
	p.changed = make(chan struct{})
}

// ErrProjectionStopped is returned to writers waiting on a projection that
// has stopped.
var ErrProjectionStopped = errors.New("projection stopped")

// WaitFor blocks until the event at seq in stream has been applied and its
// views published, so a client reads its own write.
func (p *Projection) WaitFor(ctx context.Context, stream string, seq uint64) error {
	return p.wait(ctx, p.visible, stream, seq)
}

// WaitApplied blocks until the event at seq in stream is in the local
// state, which is all a decision reads. It does not wait for the views.
func (p *Projection) WaitApplied(ctx context.Context, stream string, seq uint64) error {
	return p.wait(ctx, p.applied, stream, seq)
}

func (p *Projection) wait(ctx context.Context, mark map[string]uint64, stream string, seq uint64) error {
	for {
		p.mu.Lock()
		done, changed, failure := mark[stream] >= seq, p.changed, p.failure
		p.mu.Unlock()
		if done {
			return nil
		}
		if failure != nil {
			return fmt.Errorf("%w: %w", ErrProjectionStopped, failure)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// CatchUp waits until everything stored in stream right now is applied to
// the local state.
func (p *Projection) CatchUp(ctx context.Context, stream string) error {
	_, err := p.catchUp(ctx, stream)
	return err
}

// catchUp is CatchUp, returning the sequence it caught up to.
func (p *Projection) catchUp(ctx context.Context, stream string) (uint64, error) {
	s, err := untilAnswered(ctx, func(try context.Context) (jetstream.Stream, error) {
		s, err := p.js.Stream(try, stream)
		if err == nil && noLeader(s.CachedInfo()) {
			return nil, errNoLeader
		}
		return s, err
	})
	if err != nil {
		return 0, fmt.Errorf("catch up %s: %w", stream, err)
	}
	state := s.CachedInfo().State
	if err := p.WaitApplied(ctx, stream, state.LastSeq); err != nil {
		return state.LastSeq, err
	}
	p.mu.Lock()
	p.firsts[stream] = max(p.firsts[stream], state.FirstSeq)
	p.mu.Unlock()
	return state.LastSeq, nil
}

// archiveApplied waits until everything the stream held before its first
// sequence, when the projection started or last caught up with it, is
// applied, and returns that sequence. What comes before it may have moved
// to the stream's archive (ADR 25), where JetStream's expectations do not
// look: a decision must not take an entity it has not seen yet for a new
// one, nor an archived one for stale.
func (p *Projection) archiveApplied(ctx context.Context, stream string) (uint64, error) {
	p.mu.Lock()
	first := p.firsts[stream]
	p.mu.Unlock()
	if first <= 1 {
		return first, nil
	}
	return first, p.WaitApplied(ctx, stream, first-1)
}

// errNoLeader is a stream's information given by a replica that knows of
// no leader. Such a replica answers in the leader's stead (nats-server
// lets it, so that a stream without a leader can still be looked at), with
// its own state, which may lag the stream: a catch-up to its last sequence
// could stop short of an event already stored, and a decision that finds
// nothing to do on that state drops its cause (seen in the chaos test: a
// capture handled as "nothing to do" because the catch-up stopped before
// the order's stock_reserved, and the order expired). Ask again.
var errNoLeader = errors.New("a replica without a leader answered")

// noLeader says info came from a clustered stream's replica that knows of
// no leader. A stream on a single server, or with one replica, names its
// server as the leader.
func noLeader(info *jetstream.StreamInfo) bool {
	return info != nil && info.Cluster != nil && info.Cluster.Leader == ""
}

// CatchUpAll waits until everything stored right now in every stream of
// the projection is applied.
func (p *Projection) CatchUpAll(ctx context.Context) error {
	_, err := p.catchUpAll(ctx)
	return err
}

// catchUpAll is CatchUpAll, returning the sequence it caught up to in
// each stream.
func (p *Projection) catchUpAll(ctx context.Context) (map[string]uint64, error) {
	to := make(map[string]uint64, len(p.streams))
	for _, stream := range p.streams {
		last, err := p.catchUp(ctx, stream)
		if err != nil {
			return to, err
		}
		to[stream] = last
	}
	return to, nil
}

// Ready reports whether the projection has applied what its streams held at
// start, runs, and can commit.
func (p *Projection) Ready() bool { return p.Problem() == nil }

// Problem says why the projection is not ready, nil when it is: it has
// stopped, its last batch could not commit (a full disk says so here), or
// it has not yet applied what its streams held at start.
func (p *Projection) Problem() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.failure != nil:
		return fmt.Errorf("stopped: %w", p.failure)
	case p.trouble != nil:
		return fmt.Errorf("cannot commit, trying again: %w", p.trouble)
	}
	for stream, target := range p.targets {
		if p.applied[stream] < target {
			return errors.New("catching up with its streams")
		}
	}
	return nil
}

// retry calls f up to attempts times with a growing pause between tries.
func retry(ctx context.Context, attempts int, f func() error) error {
	var err error
	for i := range attempts {
		if err = f(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(i+1) * 50 * time.Millisecond):
		}
	}
	return err
}
