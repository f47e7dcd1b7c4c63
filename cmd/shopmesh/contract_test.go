package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

// A placement that breaks its own contract (issue 19, the third finding),
// as an operator can publish it: `nats pub orders.order.X.placed
// '{"orderId":"X"}'` with the orders service's envelope. It used to become
// an order with no customer, no items and a zero total, which inventory
// reserved nothing for and payments declined. Now each of its readers
// refuses it with the schema's reason and counts it: the orders
// projection sets it aside, inventory's reaction gives it to the dead
// letters. No step of the saga runs on it, and the order placed after it
// is confirmed.
func TestAPlacementThatBreaksItsContractRunsNoSaga(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 100, 10)
	meshtest.Forge(t, m.js, events.OrdersService, "orders.order.X.placed", events.OrderPlaced{}.EventType(), `{"orderId":"X"}`)
	id := m.place("after-the-broken-one", "tok_visa", line{mug, 1})
	if o := m.awaitTerminal(id); o.Status != "confirmed" {
		t.Fatalf("the order after the broken one: %+v", o)
	}

	metrics := m.shop.node.Metrics
	inventoryGaveUp := `shopmesh_events_handled_total{consumer="inventory-on-orders",outcome="dead"}`
	meshtest.Eventually(t, 20*time.Second, func() error {
		if got := meshtest.Metric(t, metrics, inventoryGaveUp); got != 1 {
			return fmt.Errorf("inventory gave up on %v events; reservation of X: %d events", got, len(m.events(events.InventoryStream, "inventory.reservation.X.>")))
		}
		return nil
	})
	if got := meshtest.Metric(t, metrics, `shopmesh_events_set_aside_total{service="orders"}`); got < 1 {
		t.Errorf("orders set aside %v events", got)
	}
	dead, err := ops.DeadLetters(meshtest.Context(t), m.js)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]bool{}
	for _, d := range dead {
		if d.Subject == "orders.order.X.placed" && strings.Contains(d.Error, "missing properties 'customerId', 'items', 'total'") {
			refused[d.Consumer] = true
		}
	}
	if len(dead) != 2 || !refused["orders-projection"] || !refused["inventory-on-orders"] {
		t.Fatalf("dead letters %+v; want the broken placement, refused by the orders projection and inventory's reaction with the schema's reason", dead)
	}

	m.http.Do(http.MethodGet, "/orders/X", nil, nil).Problem(http.StatusNotFound)
	if got := m.events(events.OrdersStream, "orders.order.X.>"); len(got) != 1 {
		t.Errorf("order X has %d events, want the broken placement alone", len(got))
	}
	if got := m.events(events.InventoryStream, "inventory.reservation.X.>"); len(got) != 0 {
		t.Errorf("inventory decided on the broken placement: %d events", len(got))
	}
	if got := m.payments("X"); len(got) != 0 {
		t.Errorf("payments charged the broken placement: %+v", got)
	}
	m.awaitReady()
}
