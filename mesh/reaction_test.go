package mesh_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

func fastRetries() mesh.ReactionOptions {
	return mesh.ReactionOptions{StuckAfter: 3, Backoff: []time.Duration{5 * time.Millisecond}}
}

func TestPoisonMessageGoesToDeadLettersWhileOthersFlow(t *testing.T) {
	t.Parallel()
	js := withDeadLetters(t)
	ctx := meshtest.Context(t)
	var mu sync.Mutex
	attempts := map[string]int{}
	handled := make(chan string, 10)
	r := mesh.Reaction{
		Durable: mesh.Durable{Name: "test-reactor", Stream: testStream, Subjects: []string{"test.counter.*.incremented"}},
		Handle: func(_ context.Context, e mesh.Envelope) error {
			mu.Lock()
			attempts[e.Subject]++
			mu.Unlock()
			if e.Subject == "test.counter.poison.incremented" {
				return mesh.Permanent(errors.New("cannot digest this"))
			}
			handled <- e.Subject
			return nil
		},
	}
	rc, err := startReaction(t, js, r, fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Stop()

	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	for _, id := range []string{"poison", "a", "b", "c"} {
		if _, err := pub.Publish(ctx, mesh.Cause{ID: id}, mesh.Outgoing{Event: incremented{Counter: id, Value: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		select {
		case <-handled:
		case <-ctx.Done():
			t.Fatal("good messages stuck behind the poison one")
		}
	}
	dead := nextDeadLetter(t, js)
	if got := dead.Headers().Get(mesh.HeaderDeadError); got != "cannot digest this" {
		t.Errorf("dead letter error header = %q", got)
	}
	if got := dead.Headers().Get(mesh.HeaderDeadSubject); got != "test.counter.poison.incremented" {
		t.Errorf("dead letter subject header = %q", got)
	}
	if got, want := dead.Headers().Get(mesh.HeaderID), idAt(t, js, 1); got != want {
		t.Errorf("dead letter lost the envelope: ce-id = %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := attempts["test.counter.poison.incremented"]; n != 1 {
		t.Errorf("poison message tried %d times: a permanent error is not retried", n)
	}
}

func TestPermanentErrorSkipsRetries(t *testing.T) {
	t.Parallel()
	js := withDeadLetters(t)
	ctx := meshtest.Context(t)
	var calls sync.WaitGroup
	calls.Add(1)
	r := mesh.Reaction{
		Durable: mesh.Durable{Name: "permanent", Stream: testStream, Subjects: []string{"test.>"}},
		Handle: func(context.Context, mesh.Envelope) error {
			calls.Done()
			return mesh.Permanent(errors.New("malformed"))
		},
	}
	rc, err := startReaction(t, js, r, fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Stop()
	if _, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "p"}, mesh.Outgoing{Event: incremented{Counter: "p"}}); err != nil {
		t.Fatal(err)
	}
	dead := nextDeadLetter(t, js)
	if dead.Headers().Get(mesh.HeaderDeadError) != "malformed" {
		t.Fatalf("unexpected dead letter %v", dead.Headers())
	}
	calls.Wait() // exactly one call: a second would panic on a negative counter
}

// An event ahead of the state it follows is tried again until the state
// comes, and set aside once it is AheadFor old: it names state that never
// came. Deliveries that failed for other reasons first (an election, say)
// do not cut that wait short.
func TestAnEventAheadOfItsStateWaitsForItThenIsSetAside(t *testing.T) {
	t.Parallel()
	js := withDeadLetters(t)
	ctx := meshtest.Context(t)
	var mu sync.Mutex
	attempts := map[string]int{}
	handled := make(chan string, 1)
	r := mesh.Reaction{
		Durable: mesh.Durable{Name: "ahead", Stream: testStream, Subjects: []string{"test.>"}},
		Handle: func(_ context.Context, e mesh.Envelope) error {
			mu.Lock()
			attempts[e.Subject]++
			n := attempts[e.Subject]
			mu.Unlock()
			switch {
			case e.Subject == "test.counter.ghost.incremented" && n <= 3:
				return errors.New("no leader")
			case e.Subject == "test.counter.ghost.incremented" || n < 3:
				return mesh.NotYet(errors.New("counter not known yet"))
			}
			handled <- e.Subject
			return nil
		},
	}
	opts := fastRetries()
	opts.AheadFor = 300 * time.Millisecond
	rc, err := startReaction(t, js, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Stop()
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	published := time.Now()
	for _, id := range []string{"ghost", "late"} {
		if _, err := pub.Publish(ctx, mesh.Cause{ID: id}, mesh.Outgoing{Event: incremented{Counter: id, Value: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case got := <-handled:
		if got != "test.counter.late.incremented" {
			t.Fatalf("handled %s", got)
		}
	case <-ctx.Done():
		t.Fatal("an event whose state came was never handled")
	}
	dead := nextDeadLetter(t, js)
	if waited := time.Since(published); waited < opts.AheadFor {
		t.Errorf("set aside after %v, before it was AheadFor (%v) old", waited, opts.AheadFor)
	}
	if got := dead.Headers().Get(mesh.HeaderDeadSubject); got != "test.counter.ghost.incremented" {
		t.Fatalf("dead letter of %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := attempts["test.counter.ghost.incremented"]; n <= 4 {
		t.Errorf("an event whose state never came was tried %d times: after its other failures it waited for its state", n)
	}
}

// A transient failure is retried as long as it takes, past the point where
// the message counts as stuck; it never goes to the dead letters.
func TestTransientFailuresAreRetriedUntilTheySucceed(t *testing.T) {
	t.Parallel()
	js := withDeadLetters(t)
	ctx := meshtest.Context(t)
	var tries atomic.Int64
	stuckSeen := make(chan string, 1)
	handled := make(chan struct{})
	var rc *mesh.Reactor
	r := mesh.Reaction{
		Durable: mesh.Durable{Name: "flaky", Stream: testStream, Subjects: []string{"test.>"}},
		Handle: func(context.Context, mesh.Envelope) error {
			if n := tries.Add(1); n < 8 {
				if _, note := rc.Stuck(); note != "" {
					select {
					case stuckSeen <- note:
					default:
					}
				}
				return errors.New("gateway down")
			}
			close(handled)
			return nil
		},
	}
	var err error
	if rc, err = startReaction(t, js, r, fastRetries()); err != nil {
		t.Fatal(err)
	}
	defer rc.Stop()
	if _, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "flaky"}, mesh.Outgoing{Event: incremented{Counter: "f"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handled:
	case <-ctx.Done():
		t.Fatalf("not handled after %d tries", tries.Load())
	}
	select {
	case note := <-stuckSeen:
		if !strings.Contains(note, "gateway down") {
			t.Fatalf("stuck note %q does not say why", note)
		}
	default:
		t.Fatal("a message failing 7 times was never reported stuck")
	}
	// The handler returns before the reactor acks and forgets the message,
	// so the count is awaited, not read at once.
	meshtest.Eventually(t, 20*time.Second, func() error {
		if n, _ := rc.Stuck(); n != 0 {
			return fmt.Errorf("%d stuck after it was handled", n)
		}
		return nil
	})
	if dead, err := ops.DeadLetters(ctx, js); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %v %v", dead, err)
	}
}

// idAt returns the ce-id of the test stream's message at seq.
func idAt(t *testing.T, js jetstream.JetStream, seq uint64) string {
	t.Helper()
	ctx := meshtest.Context(t)
	s, err := js.Stream(ctx, testStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	return m.Header.Get(mesh.HeaderID)
}

func nextDeadLetter(t *testing.T, js jetstream.JetStream) jetstream.Msg {
	t.Helper()
	ctx := meshtest.Context(t)
	c, err := js.OrderedConsumer(ctx, mesh.DeadLetterStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(30 * time.Second))
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	return m
}

func TestDeadLetterCanBeRedriven(t *testing.T) {
	t.Parallel()
	js := withDeadLetters(t)
	ctx := meshtest.Context(t)
	var healed atomic.Bool
	handled := make(chan string, 1)
	r := mesh.Reaction{
		Durable: mesh.Durable{Name: "redrive-test", Stream: testStream, Subjects: []string{"test.>"}},
		Handle: func(_ context.Context, e mesh.Envelope) error {
			if !healed.Load() {
				return mesh.Permanent(errors.New("not yet"))
			}
			handled <- e.ID
			return nil
		},
	}
	rc, err := startReaction(t, js, r, fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Stop()
	if _, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "sick"}, mesh.Outgoing{Event: incremented{Counter: "s"}}); err != nil {
		t.Fatal(err)
	}
	dead := nextDeadLetter(t, js)
	meta, _ := dead.Metadata()
	if err := ops.Redrive(ctx, js, meta.Sequence.Stream); !errors.Is(err, ops.ErrRedriveFailed) {
		t.Fatalf("redrive while still failing: %v", err)
	}
	// A redrive names a letter that the reaction's own service wrote; a
	// letter written under another service's name is not handled.
	forged := nats.NewMsg("deadletter.intruder.redrive-test")
	forged.Header.Set(mesh.HeaderDeadSubject, "test.counter.forged.incremented")
	forged.Data = []byte(`{"counter":"forged"}`)
	ack, err := js.PublishMsg(ctx, forged)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := js.Conn().Request(mesh.RedriveSubject("redrive-test"), []byte(strconv.FormatUint(ack.Sequence, 10)), 5*time.Second)
	if err != nil || !strings.Contains(string(reply.Data), "not deadletter.test.redrive-test") {
		t.Fatalf("redrive of another's letter answered %v %q", err, reply.Data)
	}
	if dl, err := js.Stream(ctx, mesh.DeadLetterStream); err != nil || dl.DeleteMsg(ctx, ack.Sequence) != nil {
		t.Fatalf("forged letter not removed: %v", err)
	}
	healed.Store(true)
	if err := ops.Redrive(ctx, js, meta.Sequence.Stream); err != nil {
		t.Fatal(err)
	}
	if id, want := <-handled, idAt(t, js, 1); id != want {
		t.Fatalf("redriven envelope has id %q, want %q", id, want)
	}
	left, err := ops.DeadLetters(ctx, js)
	if err != nil || len(left) != 0 {
		t.Fatalf("dead letters after redrive: %v %v", left, err)
	}
	if err := ops.Redrive(ctx, js, meta.Sequence.Stream); !errors.Is(err, ops.ErrNoDeadLetter) {
		t.Fatalf("redrive of a letter already handled: %v", err)
	}
}

// startReaction provisions r's consumer, as an operator would, and starts it.
func startReaction(t *testing.T, js jetstream.JetStream, r mesh.Reaction, opts mesh.ReactionOptions) (*mesh.Reactor, error) {
	t.Helper()
	if err := mesh.ProvisionDurable(meshtest.Context(t), js, r.Durable, opts); err != nil {
		return nil, err
	}
	return mesh.StartReaction(meshtest.Context(t), js, "test", r, opts, observe.Observer{Log: meshtest.Logger(t)})
}

// A reaction stopped while its server is gone, with its worker busy and
// the worker's queue full, returns once the busy handler is done: the
// consumer's callback, still waiting to queue a message, gives up instead
// of sending on a closed queue (which panicked), and what was queued is
// left unacked, for redelivery.
func TestReactionStopsWithAFullQueueAndNoServer(t *testing.T) {
	t.Parallel()
	srv := meshtest.Server(t)
	js := meshtest.JetStream(t, srv)
	newStream(t, js)
	if err := mesh.ProvisionDeadLetters(meshtest.Context(t), js, mesh.Storage{}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var handled atomic.Int32
	r := mesh.Reaction{
		Durable: mesh.Durable{Name: "test-busy", Stream: testStream, Subjects: []string{"test.counter.*.incremented"}},
		Handle: func(context.Context, mesh.Envelope) error {
			handled.Add(1)
			<-release
			return nil
		},
	}
	rc, err := startReaction(t, js, r, mesh.ReactionOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := meshtest.Context(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	for i := range 80 { // more than the worker's queue holds
		if _, err := pub.Publish(ctx, mesh.Cause{ID: strconv.Itoa(i)}, mesh.Outgoing{Event: incremented{Counter: "busy", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.Consumer(ctx, testStream, "test-busy")
	if err != nil {
		t.Fatal(err)
	}
	for { // delivered: one in hand, 64 queued, the next waiting for room
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending >= 66 && handled.Load() == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not delivered: %d in flight, %d handled", info.NumAckPending, handled.Load())
		case <-time.After(10 * time.Millisecond):
		}
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	stopped := make(chan struct{})
	go func() {
		rc.Stop()
		close(stopped)
	}()
	<-rc.Closing()
	close(release)
	<-stopped
	if n := handled.Load(); n != 1 {
		t.Errorf("%d messages handled after the server went, want only the one in hand", n)
	}
}

// A reaction asked to stop does not wait on a handler stuck in a slow
// dependency (a gateway's charge): after a grace period the handler's
// context is cancelled, and its event, left unacked, is delivered again,
// as after a crash, so nothing is lost.
func TestStopCutsShortAHandlerStillRunning(t *testing.T) {
	t.Parallel()
	js := withDeadLetters(t)
	ctx := meshtest.Context(t)
	started := make(chan struct{}, 1)
	ended := make(chan error, 1)
	slow := mesh.Reaction{
		Durable: mesh.Durable{Name: "slow", Stream: testStream, Subjects: []string{"test.>"}},
		Handle: func(ctx context.Context, _ mesh.Envelope) error {
			started <- struct{}{}
			<-ctx.Done() // a charge that would take longer than anyone waits
			ended <- ctx.Err()
			return ctx.Err()
		},
	}
	rc, err := startReaction(t, js, slow, fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "slow"}, mesh.Outgoing{Event: incremented{Counter: "slow", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	<-started
	rc.Stop()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("the handler ended with %v, not cancelled by Stop", err)
	}
	handled := make(chan struct{})
	var once sync.Once
	again := mesh.Reaction{Durable: slow.Durable, Handle: func(context.Context, mesh.Envelope) error {
		once.Do(func() { close(handled) })
		return nil
	}}
	rc, err = startReaction(t, js, again, fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Stop()
	select {
	case <-handled:
	case <-ctx.Done():
		t.Fatal("the event cut short was not delivered again")
	}
}

// NotYetIf marks only the domain's "not yet", however it is wrapped.
func TestNotYetIfMarksOnlyItsError(t *testing.T) {
	t.Parallel()
	ahead := errors.New("not placed yet")
	cases := []struct {
		err  error
		want bool
	}{
		{ahead, true},
		{fmt.Errorf("order o1: %w", ahead), true},
		{errors.New("disk full"), false},
		{nil, false},
	}
	for _, c := range cases {
		got := mesh.NotYetIf(c.err, ahead)
		if mesh.IsNotYet(got) != c.want || !errors.Is(got, c.err) {
			t.Errorf("NotYetIf(%v) = %v, NotYet %v; want %v", c.err, got, mesh.IsNotYet(got), c.want)
		}
	}
}
