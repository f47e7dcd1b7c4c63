package store

import (
	"errors"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
)

// The bucket lets an order's view go a day after it last changed (ADR
// 21); the order is then read from the local state, which holds every
// order. An order in neither is not found.
func TestAnOrderTheBucketLetGoIsReadFromTheLocalState(t *testing.T) {
	t.Parallel()
	db, views := meshtest.LocalState(t, meshtest.Node(t), "orders", mesh.RecentViews)
	st, err := New(db, views)
	if err != nil {
		t.Fatal(err)
	}
	meshtest.Apply(t, db, st, events.OrderPlaced{OrderID: "old", CustomerID: "alice",
		Total: events.Money{Amount: 900, Currency: "EUR"}, ExpiresAt: time.Now().Add(time.Hour)})
	ctx := meshtest.Context(t)
	v, err := st.Get(ctx, "old")
	if err != nil || v.ID != "old" || v.CustomerID != "alice" || v.Status != domain.StatusPending || v.Total.Amount != 900 {
		t.Fatalf("an order the bucket does not hold: %+v, %v; want it from the local state", v, err)
	}
	if _, err := st.Get(ctx, "never"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("an order never placed: %v; want not found", err)
	}
}
