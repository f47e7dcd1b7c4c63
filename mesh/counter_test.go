package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	bolt "go.etcd.io/bbolt"
)

// The runtime is tested with a tiny domain of its own: counters that are
// incremented. Each increment records the value it produced, so a lost
// update shows as a repeated value.

const testStream = "COUNTERS"

type incremented struct {
	Counter string `json:"counter"`
	Value   int    `json:"value"`
}

func (e incremented) EventSubject() string { return "test.counter." + e.Counter + ".incremented" }
func (incremented) EventType() string      { return "shopmesh.test.counter.incremented.v1" }

func counterFilter(id string) string { return "test.counter." + id + ".*" }

// counters projects increments into bbolt: the current value and the last
// subject sequence per counter, and how often each value was applied.
type counters struct{}

var bucketCounters = []byte("counters")

type counterState struct {
	Value   int    `json:"value"`
	LastSeq uint64 `json:"lastSeq"`
	Applied int    `json:"applied"`
}

func (counters) Apply(tx *bolt.Tx, e mesh.Envelope) ([]mesh.View, error) {
	var ev incremented
	if err := e.Decode(&ev); err != nil {
		return nil, err
	}
	b, err := tx.CreateBucketIfNotExists(bucketCounters)
	if err != nil {
		return nil, err
	}
	var st counterState
	if _, err := mesh.GetJSON(b, ev.Counter, &st); err != nil {
		return nil, err
	}
	st.Value, st.LastSeq, st.Applied = ev.Value, e.Sequence, st.Applied+1
	return []mesh.View{{Key: ev.Counter, Value: st}}, mesh.PutJSON(b, ev.Counter, st)
}

func readCounter(db *bolt.DB, id string) counterState {
	var st counterState
	_ = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCounters); b != nil {
			_, err := mesh.GetJSON(b, id, &st)
			return err
		}
		return nil
	})
	return st
}

// harness is one "service" of counters: stream, bbolt file, projection,
// views and writer.
type harness struct {
	js    jetstream.JetStream
	db    *bolt.DB
	proj  *mesh.Projection
	views *mesh.Views
	w     *mesh.Writer
	path  string
	// stopOnce lets a test stop the harness before its cleanup does.
	stopOnce sync.Once
}

func newStream(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	err := mesh.ProvisionStream(meshtest.Context(t), js, mesh.Storage{}, mesh.StreamSpec{Name: testStream, Subjects: []string{"test.>"}})
	if err != nil {
		t.Fatal(err)
	}
}

// streamOnNewServer starts a server with the test stream on it.
func streamOnNewServer(t testing.TB) jetstream.JetStream {
	t.Helper()
	js := meshtest.JetStream(t, meshtest.Server(t))
	newStream(t, js)
	return js
}

// withDeadLetters is streamOnNewServer with the dead-letter stream too.
func withDeadLetters(t testing.TB) jetstream.JetStream {
	t.Helper()
	js := streamOnNewServer(t)
	if err := mesh.ProvisionDeadLetters(meshtest.Context(t), js, mesh.Storage{}); err != nil {
		t.Fatal(err)
	}
	return js
}

func startHarness(t testing.TB, js jetstream.JetStream, path string) *harness {
	t.Helper()
	h := watchingHarness(t, js, path)
	h.start(t)
	return h
}

// watchingHarness is a harness whose views follow the bucket, with its
// projection not started yet: a replica starting up.
func watchingHarness(t testing.TB, js jetstream.JetStream, path string) *harness {
	t.Helper()
	ctx := meshtest.Context(t)
	kv, err := mesh.ProvisionBucket(ctx, js, mesh.Storage{}, "counters", 0)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{js: js, views: mesh.NewViews(kv), path: path}
	if err := h.views.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// start opens the harness's file and starts its projection and writer.
func (h *harness) start(t testing.TB) {
	t.Helper()
	var err error
	if h.db, _, err = mesh.OpenDB(h.path, false); err != nil {
		t.Fatal(err)
	}
	h.proj = mesh.NewProjection(h.db, h.js, []string{testStream}, counters{}, h.views, meshtest.Logger(t))
	if err := h.proj.Start(meshtest.Context(t)); err != nil {
		t.Fatal(err)
	}
	h.w = mesh.NewWriter(mesh.NewPublisher(h.js, "shopmesh/test", nil), h.proj, testStream)
	t.Cleanup(h.stop)
}

func (h *harness) stop() {
	h.stopOnce.Do(func() {
		h.proj.Stop()
		_ = mesh.CloseDB(h.db)
	})
}

// increment adds one to a counter with optimistic concurrency.
func (h *harness) increment(ctx context.Context, causeID, id string) (uint64, error) {
	return h.w.Write(ctx, mesh.Cause{ID: causeID}, func() ([]mesh.Outgoing, error) {
		snap, err := h.read(id)
		return mesh.Guard([]incremented{{Counter: id, Value: snap.Value + 1}}, snap), err
	})
}

// counterSnapshot is a counter's state and where it stood: a mesh.Snapshot.
type counterSnapshot struct {
	counterState
	mesh.Positions
}

func (h *harness) read(id string) (counterSnapshot, error) {
	var snap counterSnapshot
	err := h.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCounters); b != nil {
			if _, err := mesh.GetJSON(b, id, &snap.counterState); err != nil {
				return err
			}
		}
		snap.Positions = mesh.ReadPositions(tx, "test.counter."+id)
		return nil
	})
	return snap, err
}

func values(t testing.TB, js jetstream.JetStream, subject string) []int {
	t.Helper()
	ctx := meshtest.Context(t)
	c, err := js.OrderedConsumer(ctx, testStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for range info.NumPending {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		var ev incremented
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Value)
	}
	return out
}

func cause(i int) string { return fmt.Sprintf("cmd-%d", i) }
