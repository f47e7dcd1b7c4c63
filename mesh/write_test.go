package mesh_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

func TestConcurrentWritersLoseNoUpdate(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "c.db"))
	ctx := meshtest.Context(t)

	const writers = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := h.increment(ctx, cause(i), "a")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("writer failed: %v", err)
		}
	}
	got := values(t, js, "test.counter.a.>")
	slices.Sort(got)
	want := make([]int, writers)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got, want) {
		t.Fatalf("values in stream = %v, want each of 1..%d exactly once", got, writers)
	}
	if st := readCounter(h.db, "a"); st.Value != writers || st.Applied != writers {
		t.Fatalf("projected counter = %+v, want value and applied %d", st, writers)
	}
}

func TestStaleExpectationIsAConflict(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	ctx := meshtest.Context(t)
	first := mesh.Outgoing{Event: incremented{Counter: "a", Value: 1}, Expect: &mesh.Expect{Filter: counterFilter("a")}}
	if _, err := pub.Publish(ctx, mesh.Cause{ID: "one"}, first); err != nil {
		t.Fatal(err)
	}
	// A second writer that decided on the same (now stale) state loses;
	// so does the first one's own retry, although its message id is a
	// duplicate's: a single server checks the expectation first (a
	// cluster checks the id first, and answers a duplicate). The writer
	// tells its own message (TestACommandWhoseAnswerWasLostSucceeds).
	for _, again := range []string{"two", "one"} {
		if _, err := pub.Publish(ctx, mesh.Cause{ID: again}, first); !errors.Is(err, mesh.ErrConflict) {
			t.Fatalf("publish by %s: %v, want ErrConflict", again, err)
		}
	}
}

func TestDuplicateCommandIsStoredOnce(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "c.db"))
	ctx := meshtest.Context(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	ev := mesh.Outgoing{Event: incremented{Counter: "d", Value: 1}}

	seq1, err := pub.Publish(ctx, mesh.Cause{ID: "same"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	seq2, err := pub.Publish(ctx, mesh.Cause{ID: "same"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	if seq1 != seq2 {
		t.Fatalf("retried publish stored at %d, first at %d: want the same message", seq2, seq1)
	}
	if err := h.proj.WaitFor(ctx, testStream, seq2); err != nil {
		t.Fatal(err)
	}
	if st := readCounter(h.db, "d"); st.Applied != 1 {
		t.Fatalf("applied %d times, want 1", st.Applied)
	}
}

func TestAtomicBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	ctx := meshtest.Context(t)
	if _, err := pub.Publish(ctx, mesh.Cause{ID: "seed"}, mesh.Outgoing{Event: incremented{Counter: "y", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	batch := func(id string, ySeq uint64) error {
		_, err := pub.PublishAtomic(ctx, mesh.Cause{ID: id},
			mesh.Outgoing{Event: incremented{Counter: "x", Value: 1}, Expect: &mesh.Expect{Filter: counterFilter("x")}},
			mesh.Outgoing{Event: incremented{Counter: "y", Value: 2}, Expect: &mesh.Expect{Filter: counterFilter("y"), Seq: ySeq}},
		)
		return err
	}
	// y's expectation is stale (y already has a message), so x must not be
	// written either.
	if err := batch("stale", 0); !errors.Is(err, mesh.ErrConflict) {
		t.Fatalf("stale batch error = %v, want ErrConflict", err)
	}
	if got := values(t, js, "test.counter.x.>"); len(got) != 0 {
		t.Fatalf("x has %v after a failed batch, want nothing", got)
	}
	if err := batch("fresh", 1); err != nil {
		t.Fatalf("fresh batch: %v", err)
	}
	if got := values(t, js, "test.counter.>"); !slices.Equal(got, []int{1, 1, 2}) {
		t.Fatalf("stream = %v, want [1 1 2]", got)
	}
	// The same batch again is a duplicate, which is success for a retry.
	if err := batch("fresh", 1); !errors.Is(err, mesh.ErrAlreadyStored) {
		t.Fatalf("replayed batch: %v", err)
	}
	if got := values(t, js, "test.counter.>"); len(got) != 3 {
		t.Fatalf("replayed batch stored again: %v", got)
	}
}

func TestEnvelopeHeaders(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	ctx := meshtest.Context(t)
	c := mesh.Cause{ID: "req-1", CorrelationID: "order-9", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	seq, err := pub.Publish(ctx, c, mesh.Outgoing{Event: incremented{Counter: "h", Value: 1}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, testStream)
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		mesh.HeaderSpecVersion: "1.0",
		mesh.HeaderSource:      "shopmesh/test", mesh.HeaderType: "shopmesh.test.counter.incremented.v1",
		mesh.HeaderSubject: "test.counter.h.incremented", mesh.HeaderContentType: "application/json",
		mesh.HeaderCorrelationID: "order-9", mesh.HeaderCausationID: "req-1", mesh.HeaderTraceParent: c.TraceParent,
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if m.Header.Get(mesh.HeaderTime) == "" {
		t.Error("no ce-time header")
	}
	if id := m.Header.Get(mesh.HeaderID); len(id) != 32 || m.Header.Get(nats.MsgIdHdr) != id {
		t.Errorf("ce-id %q and Nats-Msg-Id %q: want the same 32 hex digits", id, m.Header.Get(nats.MsgIdHdr))
	}
}

// A decision published one event at a time and cut short (a crash, a lost
// race) is decided again: from state that has not seen its first events,
// their expectations make it a conflict, not a second copy; from state that
// has, only the rest goes out.
func TestInterruptedDecisionIsNeverStoredTwice(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	ctx := meshtest.Context(t)
	cause := mesh.Cause{ID: "two-counters"}
	x := mesh.Outgoing{Event: incremented{Counter: "x", Value: 1}, Expect: &mesh.Expect{Filter: counterFilter("x")}}
	y := mesh.Outgoing{Event: incremented{Counter: "y", Value: 1}, Expect: &mesh.Expect{Filter: counterFilter("y")}}
	// Only x made it before the "crash".
	if _, err := pub.Publish(ctx, cause, x); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, cause, x, y); !errors.Is(err, mesh.ErrConflict) {
		t.Fatalf("decided again from stale state: %v, want ErrConflict", err)
	}
	if _, err := pub.Publish(ctx, cause, y); err != nil {
		t.Fatalf("decided again from fresh state: %v", err)
	}
	if got := values(t, js, "test.counter.>"); !slices.Equal(got, []int{1, 1}) {
		t.Fatalf("stream = %v, want x and y once each", got)
	}
}

func TestLaterEventsOfAnEntityFollowTheEarlierOnes(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	ctx := meshtest.Context(t)
	evs := []incremented{{Counter: "z", Value: 1}, {Counter: "z", Value: 2}}
	out := mesh.Guard(evs, mesh.Positions{})
	if _, err := pub.Publish(ctx, mesh.Cause{ID: "twice"}, out...); err != nil {
		t.Fatalf("two events of one entity in one decision: %v", err)
	}
	if got := values(t, js, "test.counter.z.>"); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("stream = %v, want [1 2]", got)
	}
}

// A publisher whose writes fail says so until one works again: /readyz
// follows it.
func TestPublisherReportsAStoreThatRefusesWrites(t *testing.T) {
	t.Parallel()
	js := meshtest.JetStream(t, meshtest.Server(t)) // no stream yet: every write fails
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	ctx := meshtest.Context(t)
	ev := mesh.Outgoing{Event: incremented{Counter: "w", Value: 1}}
	if _, err := pub.Publish(ctx, mesh.Cause{ID: "one"}, ev); err == nil {
		t.Fatal("a write without a stream worked")
	}
	if pub.Healthy() == nil {
		t.Fatal("healthy after a failed write")
	}
	newStream(t, js)
	if _, err := pub.Publish(ctx, mesh.Cause{ID: "two"}, ev); err != nil {
		t.Fatal(err)
	}
	if err := pub.Healthy(); err != nil {
		t.Fatalf("still unhealthy after a write worked: %v", err)
	}
}

// A decision of several events that loses the race on a later one is
// decided again on state that holds its own earlier events: a decision
// that gives back what it holds (a reservation that lost to a release)
// must see the hold it wrote itself.
func TestDecidedAgainAfterALostRaceSeesItsOwnEvents(t *testing.T) {
	t.Parallel()
	for range 20 { // the race needs the projection to lag; try it often
		js := streamOnNewServer(t)
		h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
		ctx := meshtest.Context(t)
		pub := mesh.NewPublisher(js, "shopmesh/test", nil)
		won, err := pub.Publish(ctx, mesh.Cause{ID: "release"}, mesh.Outgoing{
			Event: incremented{Counter: "res", Value: 1}, Expect: &mesh.Expect{Filter: counterFilter("res")}})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.proj.WaitApplied(ctx, testStream, won); err != nil {
			t.Fatal(err)
		}
		calls, sawOwnHold := 0, false
		_, err = h.w.Write(ctx, mesh.CausedBy(mesh.Envelope{ID: "placed"}), func() ([]mesh.Outgoing, error) {
			if calls++; calls == 1 { // a hold, then the reservation's event, from stale state
				return []mesh.Outgoing{
					{Event: incremented{Counter: "hold", Value: 1}, Expect: &mesh.Expect{Filter: counterFilter("hold")}},
					{Event: incremented{Counter: "res", Value: 2}, Expect: &mesh.Expect{Filter: counterFilter("res")}},
				}, nil
			}
			sawOwnHold = readCounter(h.db, "hold").Value == 1
			return nil, nil
		})
		if err != nil || !sawOwnHold {
			t.Fatalf("decided again without its own hold (err %v)", err)
		}
	}
}

// A publish whose answer never comes (its stream leader lost with a
// server), or that finds an earlier try of it still being stored, is tried
// again with the same message, and the next try's answer is the
// publish's. Here a plain subscriber stands in for the stream and answers
// the second try.
func TestPublishIsTriedAgainWhenItsAnswerIsLost(t *testing.T) {
	t.Parallel()
	for name, first := range map[string]string{
		"no answer":   "",
		"in progress": `{"error":{"code":409,"err_code":10158,"description":"duplicate message id is in process"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			js := meshtest.JetStream(t, meshtest.Server(t))
			var mu sync.Mutex
			var ids []string
			sub, err := js.Conn().Subscribe("test.counter.lost.incremented", func(m *nats.Msg) {
				mu.Lock()
				defer mu.Unlock()
				switch ids = append(ids, m.Header.Get(nats.MsgIdHdr)); {
				case len(ids) > 1:
					_ = m.Respond([]byte(`{"stream":"TEST","seq":7}`))
				case first != "":
					_ = m.Respond([]byte(first))
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			pub := mesh.NewPublisher(js, "shopmesh/test", nil)
			seq, err := pub.Publish(meshtest.Context(t), mesh.Cause{ID: "lost"}, mesh.Outgoing{Event: incremented{Counter: "lost", Value: 1}})
			if err != nil || seq != 7 {
				t.Fatalf("publish = %d, %v; want the second try's 7", seq, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(ids) != 2 || ids[0] != ids[1] || ids[0] == "" {
				t.Fatalf("tries carried message ids %q, want the same id twice", ids)
			}
		})
	}
}

// A publish whose answer was lost is tried again. On a single server the
// retry of a guarded event is refused as a conflict with the event the
// first try stored (TestStaleExpectationIsAConflict): the writer knows its
// own message, takes it as the answer, and the command succeeds, whatever
// its decision would say taken again (done already, or an error such as
// "already exists"); its client then reads its own write. Once the orders'
// POST answered 404 for the order it had just placed.
func TestACommandWhoseAnswerWasLostSucceeds(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "lost.db"))
	ctx := meshtest.Context(t)
	lossy := mesh.NewWriter(mesh.NewPublisher(&losingFirstAnswers{JetStream: js}, "shopmesh/test", nil), h.proj, testStream)
	errDone := errors.New("already exists")
	for i := range 20 {
		id := "lost-" + strconv.Itoa(i)
		_, err := lossy.Write(ctx, mesh.Cause{ID: "cmd-" + id}, func() ([]mesh.Outgoing, error) {
			snap, err := h.read(id)
			if err == nil && snap.Value > 0 {
				err = errDone // as a create finds its sku taken
			}
			if err != nil {
				return nil, err
			}
			return mesh.Guard([]incremented{{Counter: id, Value: 1}}, snap), nil
		})
		if err != nil {
			t.Fatalf("%s: %v, want the write it made", id, err)
		}
		awaitOwnWrite(t, h, id)
	}
}

// A request sent again with the same cause while the first is still being
// answered decides on state that holds the first's event, applied but not
// yet in the views: it finds nothing to do, and still answers only once
// the views show that event.
func TestARequestSentAgainReadsTheWriteOfTheFirst(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "again.db"))
	ctx := meshtest.Context(t)
	for i := range 20 {
		id := "again-" + strconv.Itoa(i)
		decide := func() ([]mesh.Outgoing, error) {
			snap, err := h.read(id)
			if err != nil || snap.Value > 0 {
				return nil, err // done already
			}
			return mesh.Guard([]incremented{{Counter: id, Value: 1}}, snap), nil
		}
		first, err := decide()
		if err != nil {
			t.Fatal(err)
		}
		seq, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "cmd-" + id}, first...)
		if err != nil {
			t.Fatal(err)
		}
		// The first is applied, and its views are on their way.
		if err := h.proj.WaitApplied(ctx, testStream, seq); err != nil {
			t.Fatal(err)
		}
		if _, err := h.w.Write(ctx, mesh.Cause{ID: "cmd-" + id}, decide); err != nil {
			t.Fatalf("%s sent again: %v", id, err)
		}
		awaitOwnWrite(t, h, id)
	}
}

// awaitOwnWrite fails the test unless the counter's view shows its one
// increment right away, and the stream holds it once.
func awaitOwnWrite(t *testing.T, h *harness, id string) {
	t.Helper()
	var view counterState
	if found, err := h.views.Get(meshtest.Context(t), id, &view); err != nil || !found || view.Value != 1 {
		t.Fatalf("%s right after its write: view %+v, found %v, %v", id, view, found, err)
	}
	if got := values(t, h.js, "test.counter."+id+".*"); len(got) != 1 {
		t.Fatalf("%s stored %v, want one increment", id, got)
	}
}

// losingFirstAnswers stores every message but loses the answer to its
// first try, as a server too busy to answer within the try's time does.
type losingFirstAnswers struct {
	jetstream.JetStream
	mu   sync.Mutex
	lost map[string]bool
}

func (j *losingFirstAnswers) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := j.JetStream.PublishMsg(ctx, m, opts...)
	j.mu.Lock()
	defer j.mu.Unlock()
	if id := m.Header.Get(nats.MsgIdHdr); err == nil && !j.lost[id] {
		if j.lost == nil {
			j.lost = map[string]bool{}
		}
		j.lost[id] = true
		return nil, context.DeadlineExceeded
	}
	return ack, err
}

// A decision that finds nothing to do even on state caught up with its
// streams says so at debug, with how far it caught up and what was
// applied: the line that tells whether a dropped cause was decided on
// state that missed an event.
func TestNothingToDoAfterCatchingUpIsLogged(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	db, _, err := mesh.OpenDB(filepath.Join(t.TempDir(), "n.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.CloseDB(db)
	var logged lockedBuffer
	proj := mesh.NewProjection(db, js, []string{testStream}, counters{}, nil, zerolog.New(&logged).Level(zerolog.DebugLevel))
	if err := proj.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer proj.Stop()
	w := mesh.NewWriter(mesh.NewPublisher(js, "shopmesh/test", nil), proj, testStream)
	if _, err := w.Write(ctx, mesh.Cause{ID: "nothing"}, func() ([]mesh.Outgoing, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if line := logged.String(); !strings.Contains(line, `"message":"nothing to do, after catching up"`) ||
		!strings.Contains(line, `"caught_up_to":{"`+testStream+`":0}`) {
		t.Fatalf("logged %q", line)
	}
}

// lockedBuffer is a log's output that tests read while it is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
