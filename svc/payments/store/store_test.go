package store

import (
	"errors"
	"testing"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/payments/domain"
)

// The bucket lets a payment's view go a day after it last changed (ADR
// 21); the payment is then read from the local state, which holds every
// payment. A payment in neither is not found.
func TestAPaymentTheBucketLetGoIsReadFromTheLocalState(t *testing.T) {
	t.Parallel()
	db, views := meshtest.LocalState(t, meshtest.Node(t), "payments", mesh.RecentViews)
	st, err := New(db, views)
	if err != nil {
		t.Fatal(err)
	}
	meshtest.Apply(t, db, st, events.PaymentCaptured{PaymentID: "pay_old", OrderID: "old", Amount: events.Money{Amount: 900, Currency: "EUR"}})
	ctx := meshtest.Context(t)
	p, err := st.Get(ctx, "pay_old")
	if err != nil || p.ID != "pay_old" || p.OrderID != "old" || p.Amount.Amount != 900 {
		t.Fatalf("a payment the bucket does not hold: %+v, %v; want it from the local state", p, err)
	}
	for _, id := range []string{"pay_never", "old", "never"} { // not a payment id, or no such payment
		if _, err := st.Get(ctx, id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("payment %s: %v; want not found", id, err)
		}
	}
}
