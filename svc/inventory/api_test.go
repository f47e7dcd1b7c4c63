package inventory_test

import (
	"net/http"
	"testing"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/schemas"
)

type stock struct {
	OnHand    int64 `json:"onHand"`
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
}

func (s *shop) stock(productID string) stock {
	s.t.Helper()
	var st stock
	s.http.Do(http.MethodGet, "/inventory/"+productID, nil, nil).Expect(http.StatusOK).Decode(&st)
	return st
}

// expectValidEvents checks every event inventory wrote against its schema.
func (s *shop) expectValidEvents() {
	s.t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := v.ValidateStream(meshtest.Context(s.t), s.js, events.InventoryStream); err != nil {
		s.t.Errorf("stream %s: %v", events.InventoryStream, err)
	}
}

// The stock operations: reading, setting and adjusting a count, and what
// they refuse; a count cannot fall below what an order holds; the list of
// products running low. (Moved from cmd/shopmesh, where it ran the whole
// mesh; here the test places and confirms the order itself.)
func TestInventoryAPI(t *testing.T) {
	t.Parallel()
	s := start(t)
	mug := "MUG"
	s.publish(events.ProductsService, events.ProductCreated{ProductID: mug, ProductFields: events.ProductFields{SKU: mug, Name: "Product MUG", Price: price}})
	if st := s.stock(mug); st.OnHand != 0 || st.Available != 0 {
		t.Fatalf("new product's stock %+v", st)
	}
	admin := meshtest.Admin()
	s.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 10}, meshtest.Anonymous()).Problem(http.StatusUnauthorized)
	s.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 10}, admin).Expect(http.StatusOK)
	var st stock
	s.http.Do(http.MethodPost, "/inventory/"+mug+"/adjustments", map[string]any{"delta": -3, "reason": "broken"}, admin).Expect(http.StatusOK).Decode(&st)
	if st.OnHand != 7 || st.Available != 7 {
		t.Fatalf("after writing off 3: %+v", st)
	}
	cases := []struct {
		name   string
		body   any
		status int
	}{
		{"no change", map[string]any{"delta": 0, "reason": "x"}, http.StatusUnprocessableEntity},
		{"no reason", map[string]any{"delta": 1}, http.StatusUnprocessableEntity},
		{"below zero", map[string]any{"delta": -8, "reason": "x"}, http.StatusConflict},
		{"absurd", map[string]any{"delta": 2_000_000_000, "reason": "x"}, http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		s.http.Do(http.MethodPost, "/inventory/"+mug+"/adjustments", c.body, admin).Problem(c.status)
	}
	s.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": -1}, admin).Problem(http.StatusUnprocessableEntity)
	s.http.Do(http.MethodGet, "/inventory/NOPE", nil, nil).Problem(http.StatusNotFound)
	s.http.Do(http.MethodPut, "/inventory/NOPE", map[string]any{"onHand": 1}, admin).Problem(http.StatusNotFound)

	// While 5 are reserved for an order, on hand cannot drop below 5.
	s.publish(events.OrdersService, placed("o1", map[string]int64{mug: 5}))
	s.expectReservation("o1", 1, "accepted")
	s.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 4}, admin).Problem(http.StatusConflict)
	s.publish(events.OrdersService, events.OrderConfirmed{OrderID: "o1"}) // the order is paid
	s.expectReservation("o1", 2, "committed")

	cup := "CUP"
	s.stocked(50, cup)
	var low struct {
		Items      []struct{ ProductID string }
		NextCursor string
	}
	s.http.Do(http.MethodGet, "/inventory?belowAvailable=10", nil, nil).Expect(http.StatusOK).Decode(&low)
	if len(low.Items) != 1 || low.Items[0].ProductID != mug {
		t.Fatalf("low stock %+v, want only %s (cup %s has 50)", low, mug, cup)
	}
	// What cmd/shopmesh's invariants checked of stock: nothing reserved,
	// onHand = available + reserved, and onHand is the starting count less
	// what the confirmed order shipped (7 - 5); every event valid.
	s.expectStock(mug, 2, 0)
	s.expectStock(cup, 50, 0)
	s.expectCount("inventory.stock.MUG.committed", 1)
	s.expectValidEvents()
}
