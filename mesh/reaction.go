package mesh

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/subject"
	"go.opentelemetry.io/otel/trace"
)

// Handler turns one event into effects. Returning nil means the effects are
// durable and the message may be acked.
type Handler func(ctx context.Context, e Envelope) error

// Reaction is a service's durable interest in events from another stream.
// All replicas of a service share the consumer, so each event is handled
// once per service.
type Reaction struct {
	Durable
	Handle Handler
}

// ReactionOptions tune delivery. The zero value is sensible.
//
// A message whose handler fails is tried again, with backoff, as long as
// it takes: a compensation or a deadline must never be dropped because a
// gateway was down for a while or a product was hot. Only an error marked
// Permanent, which no retry can fix, sends it to the dead-letter stream.
type ReactionOptions struct {
	// StuckAfter is how many deliveries make a message count as stuck: it
	// is still retried, and shows in /readyz and the metrics.
	StuckAfter int
	// AheadFor is how long after it was stored an event that arrived
	// ahead of the state it follows (NotYet) is still tried again; then it
	// is set aside as an event whose state never came. The state it
	// follows was stored before it, so on a cluster that is up it comes
	// within milliseconds.
	AheadFor time.Duration
	// Backoff is the pause before each redelivery; the last entry repeats.
	Backoff []time.Duration
	// Workers handle messages in parallel. Messages about the same entity go
	// to the same worker, so they are handled in stream order.
	Workers int
	// AckWait is how long the server waits for an ack before it delivers
	// the message again. Handlers that run longer keep it alive with
	// progress heartbeats, so it can be short: after a crash, what was in
	// flight is redelivered within AckWait.
	AckWait time.Duration
}

func (o ReactionOptions) withDefaults() ReactionOptions {
	if o.StuckAfter == 0 {
		o.StuckAfter = 6
	}
	if o.AheadFor == 0 {
		o.AheadFor = time.Minute
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second, 15 * time.Second}
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	if o.AckWait == 0 {
		o.AckWait = 5 * time.Second
	}
	return o
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks an error that no retry can fix: the message goes straight
// to the dead-letter stream.
func Permanent(err error) error { return permanentError{err} }

type notYetError struct{ err error }

func (n notYetError) Error() string { return n.err.Error() }
func (n notYetError) Unwrap() error { return n.err }

// NotYet marks an event that arrived ahead of the state it follows: it
// answers a step this service has recorded (an acceptance of an order
// placed here) that its projection has not applied yet. Catching up once
// is not always enough: on a loaded cluster, stream info can lag an event
// that another consumer has already been given. So it is tried again with
// backoff, and once it is ReactionOptions.AheadFor old it is set aside in
// the dead letters, as an event about state that never came (a forged
// one).
func NotYet(err error) error { return notYetError{err} }

// NotYetIf marks err NotYet when it is, or wraps, ahead: the error a
// service's domain gives for an answer ahead of its state. A reaction
// passes its command's error through it; any other error is left as it is.
func NotYetIf(err, ahead error) error {
	if errors.Is(err, ahead) {
		return NotYet(err)
	}
	return err
}

// IsPermanent reports whether err, or an error it wraps, was marked
// Permanent: for tests of what a reaction answers.
func IsPermanent(err error) bool { return errors.As(err, new(permanentError)) }

// IsNotYet reports whether err, or an error it wraps, was marked NotYet.
func IsNotYet(err error) bool { return errors.As(err, new(notYetError)) }

// Reactor runs one reaction.
type Reactor struct {
	source string
	js     jetstream.JetStream
	r      Reaction
	opts   ReactionOptions
	log    zerolog.Logger
	m      *observe.Metrics
	tr     *observe.Tracing
	queues []chan jetstream.Msg
	wg     sync.WaitGroup
	// quit closes when the workers are being closed: a dispatch waiting on
	// a full queue gives up, and a worker leaves what it has not started
	// unacked, for redelivery. closing (under dispatching) keeps a late
	// dispatch from sending on a closed queue: once the consumer is stopped
	// rather than drained, its callback may still be running.
	quit chan struct{}
	// halt is the context every handler call runs in; Stop cancels it
	// once the workers have had stopGrace to finish.
	halt        context.Context
	haltNow     context.CancelFunc
	dispatching sync.RWMutex
	closing     bool
	abandon     bool // set before quit closes, read after
	stop        jetstream.ConsumeContext
	redrives    *nats.Subscription
	consumer    jetstream.Consumer
	// stuck are the messages delivered StuckAfter times or more and not
	// handled yet, by stream sequence, with their last error.
	stuckMu sync.Mutex
	stuck   map[uint64]stuckMsg
}

// stuckMsg is a message that keeps failing.
type stuckMsg struct {
	subject string
	err     string
	at      time.Time
}

// stuckFor is how long a stuck message is remembered without failing
// again: longer than the longest backoff, so one that another replica
// handled in the end is forgotten.
const stuckFor = time.Minute

// StartReaction binds to the reaction's durable consumer, which must have
// been provisioned (ProvisionDurable), and handles its messages until Stop.
// source names the service for dead letters.
func StartReaction(ctx context.Context, js jetstream.JetStream, source string, r Reaction, opts ReactionOptions, o observe.Observer) (*Reactor, error) {
	opts = opts.withDefaults()
	c, err := js.Consumer(ctx, r.Stream, r.Name)
	if err != nil {
		return nil, fmt.Errorf("reaction %s (is the mesh provisioned?): %w", r.Name, err)
	}
	rc := &Reactor{source: source, js: js, r: r, opts: opts, m: o.Metrics, tr: o.Tracing, consumer: c, log: o.Log.With().Str("consumer", r.Name).Logger(),
		stuck: map[uint64]stuckMsg{}}
	rc.startWorkers()
	rc.stop, err = c.Consume(rc.dispatch, jetstream.PullMaxMessages(256), jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		rc.closeWorkers(false)
		return nil, fmt.Errorf("reaction %s consume: %w", r.Name, err)
	}
	if err := rc.serveRedrives(js.Conn()); err != nil {
		rc.Stop()
		return nil, err
	}
	o.Metrics.WatchLag(r.Name, rc.stuckCount, c.Info)
	return rc, nil
}

func (rc *Reactor) startWorkers() {
	rc.queues = make([]chan jetstream.Msg, rc.opts.Workers)
	rc.quit = make(chan struct{})
	rc.halt, rc.haltNow = context.WithCancel(context.Background())
	for i := range rc.queues {
		rc.queues[i] = make(chan jetstream.Msg, 64)
		rc.wg.Add(1)
		go func(q chan jetstream.Msg) {
			defer rc.wg.Done()
			for m := range q {
				if rc.abandoned() {
					continue // not acked: redelivered to another replica or the next start
				}
				rc.handle(m)
			}
		}(rc.queues[i])
	}
}

// abandoned says the reaction was stopped without a drain: what a worker
// holds but has not started is left for redelivery, since the server that
// would take its effects is not answering.
func (rc *Reactor) abandoned() bool {
	select {
	case <-rc.quit:
		return rc.abandon
	default:
		return false
	}
}

func (rc *Reactor) dispatch(m jetstream.Msg) {
	rc.dispatching.RLock()
	defer rc.dispatching.RUnlock()
	if rc.closing {
		return // not acked: redelivered
	}
	h := fnv.New32a()
	h.Write([]byte(subject.Entity(m.Subject())))
	select {
	case rc.queues[h.Sum32()%uint32(len(rc.queues))] <- m:
	case <-rc.quit:
	}
}

// redrive handles the dead letter at seq again, if this reaction wrote it.
func (rc *Reactor) redrive(seq string) error {
	n, err := ParseSeq(seq)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dl, err := rc.js.Stream(ctx, DeadLetterStream)
	if err != nil {
		return err
	}
	raw, err := dl.GetMsg(ctx, n)
	if err != nil {
		return err
	}
	if want := deadLetterSubject(rc.source, rc.r.Name); raw.Subject != want {
		return fmt.Errorf("dead letter %d is on %s, not %s", n, raw.Subject, want)
	}
	env := fromHeader(raw.Header.Get(HeaderDeadSubject), raw.Header, raw.Data)
	env.Stream = raw.Header.Get(HeaderDeadStream)
	return rc.call(env)
}

// drainWait is how long Stop waits for the server to answer the drain of
// a reaction's pulls before it stops without it.
const drainWait = 2 * time.Second

// Stop stops fetching, lets the workers finish what they hold and returns.
// Unacked messages are redelivered to another replica or the next start.
// A drain needs the server's answer; when the server is gone, or does not
// answer, the pulls are dropped instead: a process whose NATS server went
// away must still stop when asked (it waited 50 s).
func (rc *Reactor) Stop() {
	if rc.redrives != nil {
		_ = rc.redrives.Drain()
	}
	if rc.js.Conn().IsConnected() {
		rc.stop.Drain()
		select {
		case <-rc.stop.Closed():
			rc.closeWorkers(false)
			return
		case <-time.After(drainWait):
		}
	}
	rc.stop.Stop()
	rc.closeWorkers(true)
}

// pullHeartbeat is how often the server tells a reaction or a projection
// that the pull request it waits on is still there when nothing comes.
// One that misses two asks again: a JetStream that started again (after a
// full disk, ops.StorageGuard) or a server that restarted has forgotten
// the request, and nats.go's default (15 s, 5 s for an ordered consumer)
// left a reaction deaf for 30 s. Heartbeats are sent only while idle.
const pullHeartbeat = 2 * time.Second

// stopGrace is how long Stop lets a handler that is still running finish
// (a charge at a slow gateway) before it cuts it short.
const stopGrace = 5 * time.Second

// closeWorkers ends the workers once each has finished the message it is
// handling; abandon leaves what they hold and have not started unacked. A
// handler still running after stopGrace has its context cancelled: every
// handler is idempotent, so its message, left unacked, is handled again by
// another replica or at the next start, as after a crash, and a process
// asked to stop does not wait on a slow dependency.
func (rc *Reactor) closeWorkers(abandon bool) {
	rc.abandon = abandon
	close(rc.quit) // a dispatch waiting on a full queue gives up
	rc.dispatching.Lock()
	rc.closing = true
	for _, q := range rc.queues {
		close(q)
	}
	rc.dispatching.Unlock()
	done := make(chan struct{})
	go func() {
		rc.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopGrace):
		rc.haltNow()
		<-done
	}
	rc.haltNow()
}

func (rc *Reactor) handle(m jetstream.Msg) {
	env, err := fromJetStream(m)
	if err == nil {
		stop := rc.keepAlive(m)
		err = rc.call(env)
		stop()
	}
	if err == nil {
		_ = m.Ack()
		rc.unstuck(env.Sequence)
		rc.m.ObserveReaction(rc.r.Name, "ok")
		return
	}
	log := rc.log.With().Str("subject", m.Subject()).Str("correlation_id", env.CorrelationID).Uint64("delivered", env.Delivered).Logger()
	if rc.halt.Err() != nil {
		// Cut short by Stop: handed at once to another replica, or to the
		// next start.
		log.Info().Err(err).Msg("reaction stopped before it finished; the event is delivered again")
		_ = m.Nak()
		return
	}
	if rc.givesUp(env, err) {
		rc.deadLetter(m, env, err, log)
		rc.unstuck(env.Sequence)
		return
	}
	switch {
	case IsNotYet(err):
		// Not a failure: the state it follows is on its way.
		log.Info().Err(err).Msg("event ahead of the state it follows; tried again shortly")
	case env.Delivered >= uint64(rc.opts.StuckAfter):
		rc.markStuck(env, err)
		log.Error().Err(err).Msg("reaction keeps failing; it is retried until it succeeds")
	default:
		log.Warn().Err(err).Msg("reaction failed; will retry")
	}
	rc.m.ObserveReaction(rc.r.Name, "retried")
	_ = m.NakWithDelay(rc.backoff(env.Delivered))
}

// givesUp reports whether no retry can fix err: it is Permanent, or the
// state it waits for has not come AheadFor after the event was stored.
// The event's own age, not how often it was delivered, is what counts:
// deliveries that failed for other reasons (an election, a crash) do not
// cut its wait short.
func (rc *Reactor) givesUp(env Envelope, err error) bool {
	switch {
	case IsPermanent(err):
		return true
	case IsNotYet(err):
		return time.Since(env.Stored) >= rc.opts.AheadFor
	}
	return false
}

func (rc *Reactor) markStuck(env Envelope, err error) {
	rc.stuckMu.Lock()
	defer rc.stuckMu.Unlock()
	rc.stuck[env.Sequence] = stuckMsg{subject: env.Subject, err: err.Error(), at: time.Now()}
}

func (rc *Reactor) unstuck(seq uint64) {
	rc.stuckMu.Lock()
	defer rc.stuckMu.Unlock()
	delete(rc.stuck, seq)
}

// Stuck describes the messages this replica keeps failing on ("" when
// there are none): how many, and the oldest with its last error.
func (rc *Reactor) Stuck() (int, string) {
	rc.stuckMu.Lock()
	defer rc.stuckMu.Unlock()
	maps.DeleteFunc(rc.stuck, func(_ uint64, m stuckMsg) bool { return time.Since(m.at) > stuckFor })
	if len(rc.stuck) == 0 {
		return 0, ""
	}
	oldest := slices.Min(slices.Collect(maps.Keys(rc.stuck)))
	m := rc.stuck[oldest]
	return len(rc.stuck), fmt.Sprintf("%d message(s) failed %d times or more and are still retried; the oldest, %s: %s",
		len(rc.stuck), rc.opts.StuckAfter, m.subject, m.err)
}

// stuckCount is how many messages this replica keeps failing on, for the
// lag metrics.
func (rc *Reactor) stuckCount() int {
	n, _ := rc.Stuck()
	return n
}

// keepAlive tells the server the message is still being worked on, until
// the returned stop is called.
func (rc *Reactor) keepAlive(m jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(rc.opts.AckWait / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// handlerTimeout bounds one handler call, so a stuck dependency turns into
// a retry instead of a message held forever.
const handlerTimeout = 30 * time.Second

func (rc *Reactor) call(env Envelope) error {
	ctx := observe.WithRemoteParent(context.WithValue(rc.halt, eventKey{}, env), env.TraceParent)
	ctx, span := rc.tr.Start(ctx, "react "+rc.r.Name+" "+env.Type, trace.SpanKindConsumer)
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, handlerTimeout)
	defer cancel()
	return rc.r.Handle(ctx, env)
}

func (rc *Reactor) backoff(delivered uint64) time.Duration {
	i := min(int(delivered)-1, len(rc.opts.Backoff)-1)
	return rc.opts.Backoff[max(i, 0)]
}

// Dead-letter headers added to the original message's headers.
const (
	HeaderDeadError    = "Shopmesh-Error"
	HeaderDeadStream   = "Shopmesh-Stream"
	HeaderDeadSequence = "Shopmesh-Sequence"
	HeaderDeadSubject  = "Shopmesh-Subject"
	HeaderDeadConsumer = "Shopmesh-Consumer"
	// HeaderDeadTruncated is the size of a body cut to maxDeadBody.
	HeaderDeadTruncated = "Shopmesh-Truncated"
)

// maxDeadBody is the most of a message's body a dead letter keeps: an
// event is small, and a huge message must still fit in the dead letters.
const maxDeadBody = 64 << 10

// deadLetter parks the message with the reason. Only once that is stored is
// the original terminated; if storing fails it stays for redelivery.
func (rc *Reactor) deadLetter(m jetstream.Msg, env Envelope, cause error, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := rc.js.PublishMsg(ctx, deadLetterMsg(m, env, rc.source, rc.r.Name, cause)); err != nil {
		log.Error().Err(err).Msg("dead letter not stored; will retry")
		_ = m.NakWithDelay(rc.backoff(env.Delivered))
		return
	}
	log.Error().Err(cause).Msg("reaction gave up; message moved to dead letters")
	rc.m.ObserveReaction(rc.r.Name, "dead")
	_ = m.Term()
}

// deadLetterMsg is m parked in the dead-letter stream with why, by whom
// (source and consumer) and from where; its id makes a second copy a
// duplicate.
func deadLetterMsg(m jetstream.Msg, env Envelope, source, consumer string, cause error) *nats.Msg {
	dl := nats.NewMsg(deadLetterSubject(source, consumer))
	dl.Data = m.Data()
	if len(dl.Data) > maxDeadBody {
		// The copy and its headers must fit where the original just fit.
		dl.Data = dl.Data[:maxDeadBody]
		dl.Header.Set(HeaderDeadTruncated, strconv.Itoa(len(m.Data())))
	}
	for k, v := range m.Headers() {
		// JetStream's own headers (expectations, batch ids) would be checked
		// again against the dead-letter stream; keep only the envelope.
		if !strings.HasPrefix(k, "Nats-") {
			dl.Header[k] = v
		}
	}
	dl.Header.Set(HeaderDeadError, cause.Error()[:min(len(cause.Error()), 1024)])
	dl.Header.Set(HeaderDeadStream, env.Stream)
	dl.Header.Set(HeaderDeadSequence, fmt.Sprint(env.Sequence))
	dl.Header.Set(HeaderDeadSubject, m.Subject())
	dl.Header.Set(HeaderDeadConsumer, consumer)
	dl.Header.Set(nats.MsgIdHdr, fmt.Sprintf("dead/%s/%s/%d", consumer, env.Stream, env.Sequence))
	return dl
}

// deadLetterSubject is where consumer of service source writes what it
// gives up on: a service may write under its own name only.
func deadLetterSubject(source, consumer string) string {
	return fmt.Sprintf("deadletter.%s.%s", source, consumer)
}

// RedriveSubject is where `shopmesh dlq redrive` asks the reaction that
// gave up on a dead letter to handle it again; every replica listens in a
// queue group, so one of them handles it and replies.
func RedriveSubject(consumer string) string { return "shopmesh.redrive." + consumer }

// serveRedrives handles dead letters that an operator hands back, with the
// same handler as live messages. The request names the letter by its
// sequence, and the letter is read from the dead-letter stream, where only
// this service may have written it: a request cannot bring an event of its
// own. The reply is empty on success, or the error text.
func (rc *Reactor) serveRedrives(nc *nats.Conn) error {
	sub, err := nc.QueueSubscribe(RedriveSubject(rc.r.Name), rc.r.Name, func(m *nats.Msg) {
		reply := []byte{}
		if err := rc.redrive(string(m.Data)); err != nil {
			reply = []byte(err.Error())
		}
		_ = m.Respond(reply)
	})
	if err != nil {
		return fmt.Errorf("redrive %s: %w", rc.r.Name, err)
	}
	rc.redrives = sub
	return nil
}

// ParseSeq reads a stream sequence given on a command line or in a redrive
// request.
func ParseSeq(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a stream sequence", s)
	}
	return n, nil
}
