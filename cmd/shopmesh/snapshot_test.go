package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// A shop whose local state is lost (a new machine, a new volume) starts
// from the snapshots its services took, each as its own NATS user, and
// serves what it served before: old orders, their timelines, and new
// orders through the whole saga.
func TestAShopThatLostItsLocalStateStartsFromItsSnapshots(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	m := openMall(t, cfg, snapshotsEvery(5))
	mug := m.product("SNAP-MUG", 900, 100)
	for i := range 5 { // enough events for a snapshot of the catalog too
		m.product(fmt.Sprint("SNAP-", i), 100, 0)
	}
	before := map[string]string{}
	for i := range 6 { // enough for a snapshot of the payments
		o := m.awaitTerminal(m.place(fmt.Sprint("snap-", i), "tok_visa", line{mug, 1}))
		before[o.ID] = o.Status
	}
	files := map[string][]string{"products": {"products"}, "inventory": {"inventory"}, "orders": {"orders", "orders-timeline"}, "payments": {"payments"}}
	for service, names := range files {
		obs, err := m.js.ObjectStore(meshtest.Context(t), mesh.SnapshotBucket(service))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			meshtest.Eventually(t, 20*time.Second, func() error {
				if _, err := obs.GetInfo(meshtest.Context(t), name); err != nil {
					return fmt.Errorf("snapshot of %s: %w", name, err)
				}
				return nil
			})
		}
	}

	m.close()
	if err := os.RemoveAll(filepath.Join(cfg.Data, "state")); err != nil {
		t.Fatal(err)
	}
	m.restart(cfg)
	metrics := string(m.http.Do(http.MethodGet, "/metrics", nil, nil).Expect(http.StatusOK).Body)
	for service, names := range files {
		want := fmt.Sprintf(`shopmesh_snapshots_total{event="restored",service=%q} %d`, service, len(names))
		if !strings.Contains(metrics, want) {
			t.Errorf("no %s in the metrics: the state was not restored from its snapshots", want)
		}
	}
	for id, status := range before {
		if o := m.order(id); o.Status != status {
			t.Fatalf("order %s is %s after the restore, was %s", id, o.Status, status)
		}
		m.http.Do(http.MethodGet, "/orders/"+id+"/timeline", nil, nil).Expect(http.StatusOK)
	}
	if o := m.awaitTerminal(m.place("snap-after", "tok_visa", line{mug, 1})); o.Status != "confirmed" {
		t.Fatalf("an order placed after the restore ended %s", o.Status)
	}
	// The stock is committed after the order is confirmed, by a reaction
	// to the confirmation: wait for it.
	meshtest.Eventually(t, 20*time.Second, func() error {
		if s := m.stock(mug); s.OnHand != 93 || s.Reserved != 0 {
			return fmt.Errorf("stock after the restore %+v, want 93 on hand, none reserved", s)
		}
		return nil
	})
}
