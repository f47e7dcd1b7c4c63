package mesh_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

// archivedStreamOnNewServer is streamOnNewServer with an archive.
func archivedStreamOnNewServer(t testing.TB) jetstream.JetStream {
	t.Helper()
	js := meshtest.JetStream(t, meshtest.Server(t))
	spec := mesh.StreamSpec{Name: testStream, Subjects: []string{"test.>"}, Archive: true}
	if err := mesh.ProvisionStream(meshtest.Context(t), js, mesh.Storage{}, spec); err != nil {
		t.Fatal(err)
	}
	return js
}

// archiveAll moves everything the test stream holds to its archive.
func archiveAll(t testing.TB, ctx context.Context, js jetstream.JetStream) ops.Round {
	t.Helper()
	done, err := (&ops.Archiver{JS: js}).Archive(ctx, testStream)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func wantCounter(t testing.TB, h *harness, id string, value int) {
	t.Helper()
	if st := readCounter(h.db, id); st.Value != value || st.Applied != value {
		t.Errorf("counter %s = %+v, want value and applied %d", id, st, value)
	}
}

// A projection built from the first event reads what the stream has
// archived, then the stream, and gets the same state as the live one.
func TestAProjectionReplaysTheArchiveThenTheStream(t *testing.T) {
	t.Parallel()
	js := archivedStreamOnNewServer(t)
	ctx := meshtest.Context(t)
	live := startHarness(t, js, filepath.Join(t.TempDir(), "live.db"))
	for i := range 15 {
		if _, err := live.increment(ctx, cause(i), []string{"a", "b", "a"}[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	if done := archiveAll(t, ctx, js); done.Removed != 15 {
		t.Fatalf("archived %+v, want the 15 events removed from the stream", done)
	}
	var last uint64
	for i := 15; i < 18; i++ {
		var err error
		if last, err = live.increment(ctx, cause(i), "c"); err != nil {
			t.Fatal(err)
		}
	}
	rebuilt := startHarness(t, js, filepath.Join(t.TempDir(), "rebuilt.db"))
	if err := rebuilt.proj.WaitFor(ctx, testStream, last); err != nil {
		t.Fatal(err)
	}
	for id, n := range map[string]int{"a": 10, "b": 5, "c": 3} {
		wantCounter(t, rebuilt, id, n)
		wantCounter(t, live, id, n)
	}
	if !rebuilt.proj.Ready() {
		t.Errorf("rebuilt projection not ready: %v", rebuilt.proj.Problem())
	}
}

// An entity whose every event has moved to the archive (a product whose
// stock has not changed for a day) is written again: its writer expects
// nothing on its subjects in the stream, as JetStream finds nothing there.
// A replica rebuilt from the archive writes it the same way.
func TestAnEntityWhoseEventsWereArchivedIsWrittenAgain(t *testing.T) {
	t.Parallel()
	js := archivedStreamOnNewServer(t)
	ctx := meshtest.Context(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "a.db"))
	for i := range 3 {
		if _, err := h.increment(ctx, cause(i), "quiet"); err != nil {
			t.Fatal(err)
		}
	}
	archiveAll(t, ctx, js)
	if _, err := h.increment(ctx, "after-archive", "quiet"); err != nil {
		t.Fatalf("write after its events were archived: %v", err)
	}
	wantCounter(t, h, "quiet", 4)
	archiveAll(t, ctx, js)
	replica := startHarness(t, js, filepath.Join(t.TempDir(), "replica.db"))
	if _, err := replica.increment(ctx, "on-the-replica", "quiet"); err != nil {
		t.Fatalf("write on a replica rebuilt from the archive: %v", err)
	}
	wantCounter(t, replica, "quiet", 5)
	// The expectation still guards: two replicas writing it at once lose
	// no increment.
	archiveAll(t, ctx, js)
	var wg sync.WaitGroup
	for _, w := range []*harness{h, replica} {
		wg.Go(func() {
			for i := range 10 {
				if _, err := w.increment(ctx, fmt.Sprint(w.path, i), "quiet"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, w := range []*harness{h, replica} {
		if err := w.proj.CatchUpAll(ctx); err != nil {
			t.Fatal(err)
		}
		wantCounter(t, w, "quiet", 25)
	}
}

// Replicas that start while events keep arriving and the archiver copies
// and removes them at once, round after round, miss nothing: what the
// archiver removes while a replica hands over from the archive to the
// stream is read from the archive.
func TestReplicasStartedWhileEventsArriveAndAreArchivedMissNothing(t *testing.T) {
	t.Parallel()
	js := archivedStreamOnNewServer(t)
	ctx := meshtest.Context(t)
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	const events, keys = 4000, 10
	stop := make(chan struct{})
	var archiving sync.WaitGroup
	archiving.Go(func() {
		a := ops.Archiver{JS: js}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.Archive(ctx, testStream); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	})
	var last uint64
	var replicas sync.WaitGroup
	started := make(chan *harness, events/400)
	for i := range events {
		var err error
		last, err = pub.Publish(ctx, mesh.Cause{ID: cause(i)}, mesh.Outgoing{Event: incremented{Counter: fmt.Sprint("k", i%keys), Value: i/keys + 1}})
		if err != nil {
			t.Fatal(err)
		}
		if i%400 == 200 {
			replicas.Go(func() { started <- startHarness(t, js, filepath.Join(t.TempDir(), fmt.Sprint("replica", i, ".db"))) })
		}
	}
	replicas.Wait()
	close(started)
	for h := range started {
		if err := h.proj.WaitFor(ctx, testStream, last); err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			wantCounter(t, h, fmt.Sprint("k", k), events/keys)
		}
	}
	close(stop)
	archiving.Wait()
}
