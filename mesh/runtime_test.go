package mesh_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	bolt "go.etcd.io/bbolt"
)

type ignoring struct{}

func (ignoring) Apply(*bolt.Tx, mesh.Envelope) ([]mesh.View, error) { return nil, nil }

// A runtime stops once, however often it is told to: a test's own Stop
// and its cleanup's must not panic on reactions already closed. Stop
// also ends the runtime's context.
func TestARuntimeStopsOnce(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	plan := mesh.Plan{
		Service: "tally", Bucket: "tally",
		Writes:   mesh.StreamSpec{Name: "TALLY", Subjects: []string{"tally.>"}},
		Durables: []mesh.Durable{{Name: "tally-on-itself", Stream: "TALLY", Subjects: []string{"tally.>"}}},
	}
	rt := meshtest.Open(t, n, plan) // its cleanup stops it too
	ctx := meshtest.Context(t)
	if _, _, err := mesh.Project(ctx, rt, func(*bolt.DB, *mesh.Views) (ignoring, error) { return ignoring{}, nil }); err != nil {
		t.Fatal(err)
	}
	handle := func(context.Context, mesh.Envelope) error { return nil }
	if err := rt.React(ctx, mesh.Reaction{Durable: plan.Durables[0], Handle: handle}); err != nil {
		t.Fatal(err)
	}
	if rt.Context().Err() != nil {
		t.Fatal("the runtime's context ended before Stop")
	}
	rt.Stop()
	rt.Stop()
	// What ran on it (the read model's watch, what the service started)
	// ends with the service, not with the caller's context.
	if rt.Context().Err() == nil {
		t.Fatal("the runtime's context outlived Stop")
	}
}

// A plan's BucketTTL is the bucket's, and the views the runtime gives the
// store know it.
func TestABucketKeepsViewsForThePlansTTL(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	plan := mesh.Plan{
		Service: "tally", Bucket: "tally", BucketTTL: 3 * time.Hour,
		Writes: mesh.StreamSpec{Name: "TALLY", Subjects: []string{"tally.>"}},
	}
	rt := meshtest.Open(t, n, plan)
	ctx := meshtest.Context(t)
	var views *mesh.Views
	if _, _, err := mesh.Project(ctx, rt, func(_ *bolt.DB, v *mesh.Views) (ignoring, error) { views = v; return ignoring{}, nil }); err != nil {
		t.Fatal(err)
	}
	kv, err := n.JS.KeyValue(ctx, "tally")
	if err != nil {
		t.Fatal(err)
	}
	status, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status.TTL() != 3*time.Hour || views.TTL != 3*time.Hour {
		t.Fatalf("bucket TTL %v, views TTL %v; want the plan's, 3h", status.TTL(), views.TTL)
	}
}
