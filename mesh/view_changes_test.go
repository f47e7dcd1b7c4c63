package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

func TestChangesFollowEveryWrittenView(t *testing.T) {
	t.Parallel()
	h, ctx, changes := following(t)
	h.incrementLive(ctx, t, 0, 3)
	expectValues(t, changes, "live", 1, 2, 3)
}

// Another replica ahead of this one writes a key's later views to the
// bucket first; a watch a little behind would see only the latest. Changes
// still sends each view of this replica's projection, in order: here the
// bucket is given a far later view of the key, and it is not what readers
// are sent.
func TestChangesSendEveryViewWhenAnotherReplicaIsAhead(t *testing.T) {
	t.Parallel()
	h, ctx, changes := following(t)
	h.incrementLive(ctx, t, 0, 1)
	kv, err := h.js.KeyValue(ctx, "counters")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "live", []byte(`{"seq":1000000,"view":{"Value":99}}`)); err != nil {
		t.Fatal(err)
	}
	h.incrementLive(ctx, t, 1, 3)
	expectValues(t, changes, "live", 1, 2, 3)
}

// A replica that starts behind (a new one, or one restarted) replays the
// stream: it sends nothing of what the stream held when its projection
// started (events 1-6 here, though its reader was there before 4-6), and
// every view after that, in order, though it may apply several in one
// batch and write only the latest to the bucket.
func TestChangesOfAReplicaThatCatchesUpSendOnlyWhatIsNew(t *testing.T) {
	t.Parallel()
	a, ctx, _ := following(t)
	a.incrementLive(ctx, t, 0, 3)
	b := watchingHarness(t, a.js, filepath.Join(t.TempDir(), "b.db"))
	changes := b.views.Changes(ctx)
	a.incrementLive(ctx, t, 3, 6)
	b.start(t) // replays 1-6
	a.incrementLive(ctx, t, 6, 9)
	expectValues(t, changes, "live", 7, 8, 9)
}

// incrementLive increments the counter "live" once for each cause from
// from up to to.
func (h *harness) incrementLive(ctx context.Context, t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := h.increment(ctx, cause(i), "live"); err != nil {
			t.Fatal(err)
		}
	}
}

// following starts a counter harness and follows its views' changes.
func following(t *testing.T) (*harness, context.Context, <-chan mesh.Change) {
	t.Helper()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "c.db"))
	ctx := meshtest.Context(t)
	return h, ctx, h.views.Changes(ctx)
}

// expectValues reads changes of one counter, which must be want in order.
func expectValues(t *testing.T, changes <-chan mesh.Change, key string, want ...int) {
	t.Helper()
	for _, w := range want {
		c := nextChange(t, changes)
		var st struct{ Value int }
		if err := json.Unmarshal(c.View, &st); err != nil {
			t.Fatal(err)
		}
		if c.Key != key || st.Value != w {
			t.Fatalf("want %s = %d; got %s = %s", key, w, c.Key, c.View)
		}
	}
}

// A reader that does not keep up is dropped: its channel closes instead of
// the read model waiting for it.
func TestChangesDropAReaderThatFallsBehind(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "c.db"))
	ctx := meshtest.Context(t)
	const n = 1100 // more than a reader may fall behind
	slow := h.views.Changes(ctx)
	fast, kept := h.views.Changes(ctx), make(chan int) // both follow from here
	go func() {
		seen := 0
		for range fast {
			if seen++; seen == n {
				kept <- seen
			}
		}
	}()
	pub := mesh.NewPublisher(js, "shopmesh/test", nil)
	var last uint64
	for i := range n {
		var err error
		last, err = pub.Publish(ctx, mesh.Cause{ID: cause(i)}, mesh.Outgoing{Event: incremented{Counter: fmt.Sprint("k", i), Value: 1}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := h.proj.WaitFor(ctx, testStream, last); err != nil {
		t.Fatal(err)
	}
	select { // the fast reader gets every change...
	case <-kept:
	case <-ctx.Done():
		t.Fatal("the reader that kept up missed changes")
	}
	read := 0
	for range slow { // ...the slow one what fitted, then the end
		read++
	}
	if read >= n {
		t.Fatalf("slow reader got all %d changes; want it dropped", read)
	}
}

func TestChangesEndWithTheirContext(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	h := startHarness(t, js, filepath.Join(t.TempDir(), "c.db"))
	ctx, cancel := context.WithCancel(meshtest.Context(t))
	changes := h.views.Changes(ctx)
	cancel()
	select {
	case _, open := <-changes:
		if open {
			t.Fatal("a change after the reader left")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel still open after its context ended")
	}
}

func nextChange(t *testing.T, changes <-chan mesh.Change) mesh.Change {
	t.Helper()
	select {
	case c, ok := <-changes:
		if !ok {
			t.Fatal("changes ended")
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change")
	}
	return mesh.Change{}
}
