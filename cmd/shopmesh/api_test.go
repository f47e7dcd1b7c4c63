package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

func TestInventoryAPI(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	cfg.GatewayLatency = 2 * time.Second // keeps an order's stock reserved while the test looks
	m := openMall(t, cfg)
	mug := m.product("MUG", 100, 0)
	if s := m.stock(mug); s.OnHand != 0 || s.Available != 0 {
		t.Fatalf("new product's stock %+v", s)
	}
	admin := meshtest.Admin()
	m.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 10}, meshtest.Anonymous()).Problem(http.StatusUnauthorized)
	m.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 10}, admin).Expect(http.StatusOK)
	var s stock
	m.http.Do(http.MethodPost, "/inventory/"+mug+"/adjustments", map[string]any{"delta": -3, "reason": "broken"}, admin).Expect(http.StatusOK).Decode(&s)
	if s.OnHand != 7 || s.Available != 7 {
		t.Fatalf("after writing off 3: %+v", s)
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
		m.http.Do(http.MethodPost, "/inventory/"+mug+"/adjustments", c.body, admin).Problem(c.status)
	}
	m.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": -1}, admin).Problem(http.StatusUnprocessableEntity)
	m.http.Do(http.MethodGet, "/inventory/NOPE", nil, nil).Problem(http.StatusNotFound)
	m.http.Do(http.MethodPut, "/inventory/NOPE", map[string]any{"onHand": 1}, admin).Problem(http.StatusNotFound)

	// While 5 are reserved for an order, on hand cannot drop below 5.
	id := m.place("", "tok_visa", line{mug, 5})
	m.await(id, is("awaiting_payment"))
	m.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 4}, admin).Problem(http.StatusConflict)
	m.awaitTerminal(id)

	cup := m.product("CUP", 100, 50)
	var low struct {
		Items      []struct{ ProductID string }
		NextCursor string
	}
	m.http.Do(http.MethodGet, "/inventory?belowAvailable=10", nil, nil).Expect(http.StatusOK).Decode(&low)
	if len(low.Items) != 1 || low.Items[0].ProductID != mug {
		t.Fatalf("low stock %+v, want only %s (cup %s has 50)", low, mug, cup)
	}
	m.checkInvariants(map[string]int64{mug: 7, cup: 50})
}

func TestOrderAndPaymentQueries(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 100, 100)
	for i := range 5 {
		h := http.Header{"Idempotency-Key": {fmt.Sprint(i)}}
		customer := "alice"
		if i%2 == 1 {
			customer = "bob"
		}
		var o order
		m.http.Do(http.MethodPost, "/orders", orderBody(customer, "tok_visa", line{mug, 1}), h).Expect(http.StatusAccepted).Decode(&o)
		m.awaitTerminal(o.ID)
	}
	declined := m.place("", "tok_chargeDeclined", line{mug, 1})
	m.awaitTerminal(declined)

	// Payments' read model follows its stream, which orders may be ahead of.
	var ps []payment
	eventually(t, 5*time.Second, func() error {
		if ps = m.payments(declined); len(ps) != 1 || ps[0].Status != "declined" {
			return fmt.Errorf("payments of the declined order: %+v", ps)
		}
		return nil
	})
	var p payment
	m.http.Do(http.MethodGet, "/payments/"+ps[0].ID, nil, nil).Expect(http.StatusOK).Decode(&p)
	if p.OrderID != declined {
		t.Fatalf("payment %+v", p)
	}
	m.http.Do(http.MethodPost, "/payments/"+p.ID+"/refund", nil, meshtest.Admin()).Problem(http.StatusConflict)
	m.http.Do(http.MethodGet, "/payments/pay_NOPE", nil, nil).Problem(http.StatusNotFound)
	if got := m.payments("NOPE"); len(got) != 0 {
		t.Fatalf("payments of an unknown order: %+v", got)
	}
	// All payments, a page at a time, and by status.
	var all []payment
	eventually(t, 5*time.Second, func() error {
		all = nil
		for cursor := ""; ; {
			var p struct {
				Items      []payment
				NextCursor string
			}
			m.http.Do(http.MethodGet, "/payments?limit=2&cursor="+cursor, nil, nil).Expect(http.StatusOK).Decode(&p)
			all = append(all, p.Items...)
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if len(all) != 6 {
			return fmt.Errorf("%d payments listed, want 6", len(all))
		}
		return nil
	})
	var declinedOnly struct{ Items []payment }
	m.http.Do(http.MethodGet, "/payments?status=declined", nil, nil).Expect(http.StatusOK).Decode(&declinedOnly)
	if len(declinedOnly.Items) != 1 || declinedOnly.Items[0].OrderID != declined {
		t.Fatalf("declined payments %+v", declinedOnly.Items)
	}
	m.http.Do(http.MethodGet, "/payments?status=lost", nil, nil).Problem(http.StatusUnprocessableEntity)
	m.http.Do(http.MethodGet, "/payments?cursor=***", nil, nil).Problem(http.StatusBadRequest)
	m.checkInvariants(map[string]int64{mug: 100})
}
