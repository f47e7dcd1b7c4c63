package orders_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/ops"
	"github.com/shopmesh/shopmesh/svc/orders"
)

// A placement that breaks its own contract (issue 19, the third finding),
// published from outside with the envelope the orders service writes and
// a body of its id alone, used to become an order with no customer, no
// items and a zero total, which GET /orders/X returned. The projection
// sets it aside instead, with the schema's reason, and counts it; it is
// never applied, and what comes after it is: another order, and a whole
// placement of the same id.
func TestAPlacementThatBreaksItsContractIsSetAside(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	n.Metrics = observe.NewMetrics()
	meshtest.Start(t, n, orders.New(orders.Config{TTL: time.Hour}))
	s := &shop{t: t, js: n.JS, http: meshtest.Serve(t, n)}
	s.http.Header = meshtest.Admin()

	meshtest.Forge(t, n.JS, events.OrdersService, "orders.order.X.placed", events.OrderPlaced{}.EventType(), `{"orderId":"X"}`)
	s.publish(events.OrdersService, placed("Y"))
	s.awaitOrder("Y")
	s.http.Do(http.MethodGet, "/orders/X", nil, nil).Problem(http.StatusNotFound)

	dead, err := ops.DeadLetters(meshtest.Context(t), n.JS)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Consumer != "orders-projection" || dead[0].Subject != "orders.order.X.placed" ||
		!strings.Contains(dead[0].Error, "missing properties") || !strings.Contains(dead[0].Error, "'customerId'") {
		t.Fatalf("dead letters %+v; want the broken placement, set aside with the schema's reason", dead)
	}
	if got := meshtest.Metric(t, n.Metrics, `shopmesh_events_set_aside_total{service="orders"}`); got < 1 {
		t.Fatalf("%v events counted as set aside", got)
	}
	s.http.Do(http.MethodGet, "/readyz", nil, nil).Expect(http.StatusOK)

	s.publish(events.OrdersService, placed("X"))
	if o := s.awaitOrder("X"); o.CustomerID != "alice" || o.Total != total {
		t.Fatalf("the whole placement after the broken one: %+v", o)
	}
}

// awaitOrder waits until the order's view can be read, and returns it.
func (s *shop) awaitOrder(id string) order {
	s.t.Helper()
	meshtest.Eventually(s.t, 20*time.Second, func() error {
		if r := s.http.Do(http.MethodGet, "/orders/"+id, nil, nil); r.Status != http.StatusOK {
			return fmt.Errorf("order %s: status %d", id, r.Status)
		}
		return nil
	})
	return s.order(id)
}
