package mesh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

func TestProjectionResumesAfterRestartWithoutRepeatsOrGaps(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	path := filepath.Join(t.TempDir(), "c.db")
	ctx := meshtest.Context(t)

	h := startHarness(t, js, path)
	for i := range 10 {
		if _, err := h.increment(ctx, cause(i), "r"); err != nil {
			t.Fatal(err)
		}
	}
	h.stop()

	// Written while the projection is down: must be applied at restart.
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	var last uint64
	for i := 10; i < 15; i++ {
		var err error
		last, err = pub.Publish(ctx, mesh.Cause{ID: cause(i)}, mesh.Outgoing{Event: incremented{Counter: "r", Value: i + 1}})
		if err != nil {
			t.Fatal(err)
		}
	}

	h = startHarness(t, js, path)
	if err := h.proj.WaitFor(ctx, testStream, last); err != nil {
		t.Fatal(err)
	}
	if st := readCounter(h.db, "r"); st.Applied != 15 || st.Value != 15 {
		t.Fatalf("after restart counter = %+v, want 15 applied, value 15", st)
	}
	if !h.proj.Ready() {
		t.Fatal("projection caught up but not ready")
	}
}

func TestProjectionRebuildsFromStreamsWhenFileIsDeleted(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	var last uint64
	for i := range 5 {
		var err error
		if last, err = h.increment(ctx, cause(i), "b"); err != nil {
			t.Fatal(err)
		}
	}
	fresh := startHarness(t, js, filepath.Join(t.TempDir(), "fresh.db"))
	if err := fresh.proj.WaitFor(ctx, testStream, last); err != nil {
		t.Fatal(err)
	}
	if st := readCounter(fresh.db, "b"); st.Value != 5 || st.Applied != 5 {
		t.Fatalf("rebuilt counter = %+v, want value 5 applied 5", st)
	}
}

func TestViewsNeverGoBackwards(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	for i := range 3 {
		if _, err := h.increment(ctx, cause(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	// A second replica whose projection starts from scratch replays old
	// events; the bucket must keep the newest view throughout.
	replica := startHarness(t, js, filepath.Join(t.TempDir(), "replica.db"))
	if err := replica.proj.CatchUp(ctx, testStream); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*mesh.Views{h.views, replica.views} {
		var st counterState
		if ok, err := v.Get(ctx, "v", &st); err != nil || !ok {
			t.Fatalf("view missing: %v", err)
		}
		if st.Value != 3 {
			t.Fatalf("view value = %d, want 3", st.Value)
		}
	}
	kv, _ := js.KeyValue(ctx, "counters")
	entry, err := kv.Get(ctx, "v")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Seq  uint64       `json:"seq"`
		View counterState `json:"view"`
	}
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.View.Value != 3 || rec.Seq != rec.View.LastSeq {
		t.Fatalf("bucket holds %+v, want the view of value 3 at its sequence", rec)
	}
}

func TestWritersWaitForTheirOwnWrite(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			id := cause(i)
			if _, err := h.increment(ctx, id, id); err != nil {
				t.Error(err)
				return
			}
			// Read-your-writes: the view is there the moment Write returns.
			var st counterState
			if ok, err := h.views.Get(ctx, id, &st); !ok || err != nil || st.Value != 1 {
				t.Errorf("view of %s right after write: ok=%v err=%v %+v", id, ok, err, st)
			}
		})
	}
	wg.Wait()
}

func TestWaitForReportsAStoppedProjection(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	h.proj.Stop()
	if err := h.proj.WaitFor(meshtest.Context(t), testStream, 1); !errors.Is(err, mesh.ErrProjectionStopped) {
		t.Fatalf("WaitFor = %v, want ErrProjectionStopped", err)
	}
	if err := h.proj.Problem(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("a stopped projection says %v", err)
	}
}

// A message the projection cannot apply (here a body that is not JSON,
// without any header) is set aside in the dead-letter stream; the
// projection goes on, and the entity it was about can still be written:
// its position moved past the message.
func TestUnappliableEventIsSetAsideAndItsEntityMovesOn(t *testing.T) {
	t.Parallel()
	h, js, ctx := harnessWithDeadLetters(t)
	if _, err := h.increment(ctx, cause(1), "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "test.counter.p.incremented", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.increment(ctx, cause(2), "p"); err != nil {
		t.Fatalf("write after a poison message on the same entity: %v", err)
	}
	if st := readCounter(h.db, "p"); st.Value != 2 {
		t.Fatalf("counter %+v, want 2", st)
	}
	dead := nextDeadLetter(t, js)
	if got := dead.Headers().Get(mesh.HeaderDeadSubject); got != "test.counter.p.incremented" {
		t.Fatalf("dead letter subject %q", got)
	}
	if got := dead.Headers().Get(mesh.HeaderDeadConsumer); got != "projection" {
		t.Fatalf("dead letter consumer %q, want the projection", got)
	}
	if string(dead.Data()) != "{not json" || dead.Headers().Get(mesh.HeaderDeadError) == "" {
		t.Fatalf("dead letter %q without its body or reason: %v", dead.Data(), dead.Headers())
	}
	if !h.proj.Ready() {
		t.Fatal("projection not ready after setting a message aside")
	}
	meta, _ := dead.Metadata()
	if err := ops.Redrive(ctx, js, meta.Sequence.Stream); !errors.Is(err, ops.ErrSetAside) {
		t.Fatalf("redrive of a set-aside event: %v", err)
	}
}

// While a message cannot even be set aside (no dead-letter stream), the
// projection is not ready and tries again; once it can, it goes on alone.
func TestProjectionRecoversOnceItCanSetAside(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	ctx := meshtest.Context(t)
	if _, err := js.Publish(ctx, "test.counter.q.incremented", []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	good, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "good"}, mesh.Outgoing{Event: incremented{Counter: "r", Value: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); h.proj.Ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("ready while it cannot set a message aside")
		}
	}
	if readCounter(h.db, "r").Value != 0 {
		t.Fatal("applied past a message it could not set aside")
	}
	// /readyz says why, not only that it is not ready.
	if err := h.proj.Problem(); err == nil || !strings.Contains(err.Error(), "trying again") {
		t.Fatalf("a projection that cannot set a message aside says %v", err)
	}
	if err := mesh.ProvisionDeadLetters(ctx, js, mesh.Storage{}); err != nil {
		t.Fatal(err)
	}
	if err := h.proj.WaitFor(ctx, testStream, good); err != nil {
		t.Fatalf("no recovery: %v", err)
	}
}

func TestStateOfAnotherVersionIsRebuilt(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	path := filepath.Join(t.TempDir(), "c.db")
	h := startHarness(t, js, path)
	var last uint64
	for i := range 3 {
		var err error
		if last, err = h.increment(ctx, cause(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	h.stop()

	db, _, err := mesh.OpenDB(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mesh.CloseDB(db) })
	// Version 1 of the state: the file is emptied, positions included.
	if err := mesh.PrepareState(db, 1, bucketCounters); err != nil {
		t.Fatal(err)
	}
	if st := readCounter(db, "v"); st.Applied != 0 {
		t.Fatalf("state of another version kept: %+v", st)
	}
	p := mesh.NewProjection(db, js, []string{testStream}, counters{}, nil, meshtest.Logger(t))
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if err := p.WaitFor(ctx, testStream, last); err != nil {
		t.Fatal(err)
	}
	if st := readCounter(db, "v"); st.Applied != 3 || st.Value != 3 {
		t.Fatalf("rebuilt counter %+v, want 3 applied", st)
	}
	// The same version again keeps the file.
	if err := mesh.PrepareState(db, 1, bucketCounters); err != nil {
		t.Fatal(err)
	}
	if st := readCounter(db, "v"); st.Applied != 3 {
		t.Fatalf("state of the same version dropped: %+v", st)
	}
}

func TestViewsRefusedByKVArePublishedLater(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	if _, err := h.increment(ctx, "one", "k"); err != nil {
		t.Fatal(err)
	}
	changes := h.views.Changes(ctx)
	if err := js.DeleteKeyValue(ctx, "counters"); err != nil {
		t.Fatal(err)
	}
	// The write succeeds; its view cannot be published while the bucket is gone.
	if _, err := h.increment(ctx, "two", "k"); err != nil {
		t.Fatal(err)
	}
	kv, err := mesh.ProvisionBucket(ctx, js, mesh.Storage{}, "counters", 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil {
			continue
		}
		var rec struct{ View counterState }
		if err := json.Unmarshal(e.Value(), &rec); err == nil && rec.View.Value == 2 {
			expectValues(t, changes, "k", 2) // and sent to readers of Changes, once stored
			return                           // published by the projection's retry
		}
	}
	t.Fatal("watch ended before the view was published")
}

// A message on a subject of another length than an entity's four tokens
// does not move the entity's position: the server does not count it for
// "<entity>.*" either, and a write after it must still go through.
func TestOddSubjectLeavesTheEntityWritable(t *testing.T) {
	t.Parallel()
	h, js, ctx := harnessWithDeadLetters(t)
	if _, err := h.increment(ctx, cause(1), "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "test.counter.p.incremented.x", []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if err := h.proj.CatchUpAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.increment(ctx, cause(2), "p"); err != nil {
		t.Fatalf("entity p after an odd subject: %v", err)
	}
}

// A message too big to copy whole into the dead letters is set aside with
// its body cut, and the projection goes on.
func TestHugeUnappliableEventIsSetAsideCut(t *testing.T) {
	t.Parallel()
	h, js, ctx := harnessWithDeadLetters(t)
	body := bytes.Repeat([]byte("x"), int(js.Conn().MaxPayload())-64)
	if _, err := js.Publish(ctx, "test.counter.q.incremented", body); err != nil {
		t.Fatal(err)
	}
	good, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "good"},
		mesh.Outgoing{Event: incremented{Counter: "r", Value: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.proj.WaitApplied(ctx, testStream, good); err != nil {
		t.Fatalf("projection stuck behind a huge message: %v", err)
	}
	if got := nextDeadLetter(t, js).Headers().Get(mesh.HeaderDeadTruncated); got != strconv.Itoa(len(body)) {
		t.Fatalf("dead letter says it was cut from %q bytes, want %d", got, len(body))
	}
}

// harnessWithDeadLetters is a harness on a new server that has the
// dead-letter stream, where projections set events aside.
func harnessWithDeadLetters(t *testing.T) (*harness, jetstream.JetStream, context.Context) {
	t.Helper()
	js := withDeadLetters(t)
	return startHarness(t, js, filepath.Join(t.TempDir(), "a.db")), js, meshtest.Context(t)
}

// Local state that belongs to other streams (a data directory used with
// another server, or a stream deleted and made again) is rebuilt from the
// streams at start: when it is ahead of the new stream, and when it is not
// but the stream was created at another time.
func TestStateOfOtherStreamsIsRebuilt(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	path := filepath.Join(t.TempDir(), "a.db")
	h := startHarness(t, js, path)
	for i := range 5 {
		if _, err := h.increment(ctx, cause(i), "b"); err != nil {
			t.Fatal(err)
		}
	}
	h.stop()
	for round, others := range []int{0, 20} { // the new stream behind the state, then past it
		if err := js.DeleteStream(ctx, testStream); err != nil {
			t.Fatal(err)
		}
		newStream(t, js)
		pub := mesh.NewPublisher(js, "shopmesh/test", nil)
		for i := range others {
			if _, err := pub.Publish(ctx, mesh.Cause{ID: fmt.Sprint("other-", i)}, mesh.Outgoing{Event: incremented{Counter: fmt.Sprint("other-", i), Value: 1}}); err != nil {
				t.Fatal(err)
			}
		}
		again := startHarness(t, js, path)
		last, err := again.increment(ctx, fmt.Sprint("again-", round), "b")
		if err != nil {
			t.Fatal(err)
		}
		if err := again.proj.WaitFor(ctx, testStream, last); err != nil {
			t.Fatal(err)
		}
		if st := readCounter(again.db, "b"); st.Value != 1 {
			t.Fatalf("round %d: counter on a stream made again %+v, want 1", round, st)
		}
		again.stop()
	}
}

// A catch-up does not trust a stream's information given by a replica
// that knows of no leader: that replica answers with its own state, which
// may lag the stream, and a catch-up to it could stop before an event
// already stored. It asks again until a leader answers. Here the first
// answer after the event is written is such a replica's, from before it.
func TestCatchUpAsksAgainWhenNoLeaderAnswered(t *testing.T) {
	t.Parallel()
	js := &leaderlessOnce{JetStream: streamOnNewServer(t)}
	h := startHarness(t, js, filepath.Join(t.TempDir(), "c.db"))
	ctx := meshtest.Context(t)
	if _, err := h.increment(ctx, "one", "a"); err != nil {
		t.Fatal(err)
	}
	js.arm()
	if err := h.proj.CatchUp(ctx, testStream); err != nil {
		t.Fatal(err)
	}
	if asked := js.askedSinceArmed(); asked != 2 {
		t.Fatalf("asked for the stream %d times, want twice: once to the replica without a leader, then again", asked)
	}
}

// leaderlessOnce answers the first request for a stream's information,
// once armed, as a clustered replica with no leader and nothing stored
// would; every other request goes to JetStream.
type leaderlessOnce struct {
	jetstream.JetStream
	mu    sync.Mutex
	armed bool
	asked int
}

func (l *leaderlessOnce) arm() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed, l.asked = true, 0
}

func (l *leaderlessOnce) askedSinceArmed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.asked
}

func (l *leaderlessOnce) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	s, err := l.JetStream.Stream(ctx, name)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.armed || err != nil {
		return s, err
	}
	if l.asked++; l.asked > 1 {
		return s, nil
	}
	info := *s.CachedInfo()
	info.State.LastSeq = 0
	info.Cluster = &jetstream.ClusterInfo{Name: "shopmesh"}
	return staleStream{Stream: s, info: &info}, nil
}

type staleStream struct {
	jetstream.Stream
	info *jetstream.StreamInfo
}

func (s staleStream) CachedInfo() *jetstream.StreamInfo { return s.info }

// The in-memory copy of the views holds the keys used lately, not every
// key ever written: the bucket has the rest, and an old view is still
// read, from there. A new watch reads nothing of what the bucket holds.
func TestViewsKeepOnlyWhatWasUsedLately(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	h := watchingHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	h.views.KeepOnly(4)
	h.start(t)
	const keys = 40
	for i := range keys {
		if _, err := h.increment(ctx, cause(i), fmt.Sprint("k", i)); err != nil {
			t.Fatal(err)
		}
	}
	if kept := h.views.Kept(); kept > 8 {
		t.Fatalf("the views hold %d keys in memory after %d were written; want at most 8", kept, keys)
	}
	var st counterState
	if ok, err := h.views.Get(ctx, "k0", &st); err != nil || !ok || st.Value != 1 {
		t.Fatalf("the oldest view, read again: %+v, %v, %v; want value 1", st, ok, err)
	}
	fresh := watchingHarness(t, js, filepath.Join(t.TempDir(), "b.db"))
	if kept := fresh.views.Kept(); kept != 0 {
		t.Fatalf("a new watch loaded %d keys of the bucket; want none", kept)
	}
	if ok, err := fresh.views.Get(ctx, fmt.Sprint("k", keys-1), &st); err != nil || !ok || st.Value != 1 {
		t.Fatalf("a view read by a new replica: %+v, %v, %v; want value 1", st, ok, err)
	}
}
