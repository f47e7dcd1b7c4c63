package mesh_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
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
	ctx := meshtest.Context(t)
	db, _, err := mesh.OpenDB(filepath.Join(t.TempDir(), "a.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mesh.CloseDB(db) }()
	p := mesh.NewProjection(db, js, []string{testStream}, failing{}, nil, meshtest.Logger(t))
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	seq, err := mesh.NewPublisher(js, "shopmesh/test", nil).Publish(ctx, mesh.Cause{ID: "x"}, mesh.Outgoing{Event: incremented{Counter: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, testStream, seq); !errors.Is(err, mesh.ErrProjectionStopped) {
		t.Fatalf("WaitFor = %v, want ErrProjectionStopped", err)
	}
	if p.Ready() {
		t.Fatal("a stopped projection reports ready")
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
	if err := js.DeleteKeyValue(ctx, "counters"); err != nil {
		t.Fatal(err)
	}
	// The write succeeds; its view cannot be published while the bucket is gone.
	if _, err := h.increment(ctx, "two", "k"); err != nil {
		t.Fatal(err)
	}
	kv, err := mesh.ProvisionBucket(ctx, js, mesh.Storage{}, "counters")
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
			return // published by the projection's retry
		}
	}
	t.Fatal("watch ended before the view was published")
}
