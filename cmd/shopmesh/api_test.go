package main

import (
	"fmt"
	"net/http"
	"testing"
)

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

	type page struct {
		Items      []order
		NextCursor string
	}
	var ids []string
	for cursor := ""; ; {
		var p page
		m.http.Do(http.MethodGet, "/orders?customerId=alice&status=confirmed&limit=2&cursor="+cursor, nil, nil).Expect(http.StatusOK).Decode(&p)
		for _, o := range p.Items {
			if o.CustomerID != "alice" || o.Status != "confirmed" {
				t.Fatalf("filter let through %+v", o)
			}
			ids = append(ids, o.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(ids) != 3 {
		t.Fatalf("alice's confirmed orders: %v, want 3", ids)
	}
	m.http.Do(http.MethodGet, "/orders?status=lost", nil, nil).Problem(http.StatusUnprocessableEntity)
	m.http.Do(http.MethodGet, "/orders?cursor=***", nil, nil).Problem(http.StatusBadRequest)
	m.http.Do(http.MethodGet, "/orders/NOPE", nil, nil).Problem(http.StatusNotFound)
	m.http.Do(http.MethodGet, "/orders/NOPE/timeline", nil, nil).Problem(http.StatusNotFound)

	m.checkInvariants(map[string]int64{mug: 100})
}
