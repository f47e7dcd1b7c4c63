package payments_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/ops"
	"github.com/shopmesh/shopmesh/svc/payments"
	"github.com/shopmesh/shopmesh/svc/payments/gateway"
)

// An order awaiting payment whose event breaks its own contract (issue
// 19, the third finding), published from outside with the envelope the
// orders service writes and a body of its id alone, used to be charged
// with no amount and no token, and declined. Payments' reaction sets it
// aside instead, with the schema's reason, and counts it; nothing is
// charged for it, and the order after it is.
func TestAnOrderToChargeThatBreaksItsContractIsSetAside(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	n.Metrics = observe.NewMetrics()
	meshtest.Start(t, n, payments.New(gateway.New(gateway.Options{})))
	c := meshtest.Serve(t, n)
	c.Header = meshtest.Admin()
	s := &shop{t: t, js: n.JS, http: c}

	meshtest.Forge(t, n.JS, events.OrdersService, "orders.order.Z.stock_reserved", events.OrderStockReserved{}.EventType(), `{"orderId":"Z"}`)
	s.publish(events.OrderStockReserved{OrderID: "W", Total: events.Money{Amount: 100, Currency: "EUR"}, PaymentToken: gateway.TokenVisa})

	// Counted once it is in the dead letters.
	counted := `shopmesh_events_handled_total{consumer="payments-on-orders",outcome="dead"}`
	meshtest.Eventually(t, 20*time.Second, func() error {
		if got := meshtest.Metric(t, n.Metrics, counted); got != 1 {
			return fmt.Errorf("%v events counted as dead; payments of Z: %+v", got, s.payments("Z"))
		}
		return nil
	})
	dead, err := ops.DeadLetters(meshtest.Context(t), n.JS)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Consumer != "payments-on-orders" || dead[0].Subject != "orders.order.Z.stock_reserved" ||
		!strings.Contains(dead[0].Error, "missing properties") || !strings.Contains(dead[0].Error, "'paymentToken'") {
		t.Fatalf("dead letters %+v; want the broken order, set aside with the schema's reason", dead)
	}
	meshtest.Eventually(t, 20*time.Second, func() error {
		if ps := s.payments("W"); len(ps) != 1 || ps[0].Status != "captured" {
			return fmt.Errorf("payments of the order after the broken one: %+v", ps)
		}
		return nil
	})
	if ps := s.payments("Z"); len(ps) != 0 {
		t.Fatalf("the broken order was charged: %+v", ps)
	}
}
