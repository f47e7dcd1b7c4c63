package orders_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/ops"
	"github.com/shopmesh/shopmesh/svc/orders"
)

// shop is the orders service running alone; the test speaks for the
// catalog, inventory and payments, and for another orders replica, by
// publishing their events. Its HTTP client is the admin's, who may act for
// any customer; customer tokens come from customer.
type shop struct {
	t    *testing.T
	js   jetstream.JetStream
	http *meshtest.Client
}

func start(t *testing.T) *shop { return startWith(t, orders.Config{TTL: time.Hour}) }

func startWith(t *testing.T, cfg orders.Config) *shop {
	t.Helper()
	n := meshtest.Node(t)
	meshtest.Start(t, n, orders.New(cfg))
	s := &shop{t: t, js: n.JS, http: meshtest.Serve(t, n)}
	s.http.Header = meshtest.Admin()
	return s
}

// publish writes events as service would, each with a cause of its own.
func (s *shop) publish(service string, evs ...mesh.Event) {
	meshtest.Publish(s.t, s.js, service, evs...)
}

// awaitEvent waits for the order's n-th event and checks its subject ends
// in want (stock_reserved, confirmed...).
func (s *shop) awaitEvent(orderID string, n int, want string) {
	s.t.Helper()
	ctx := meshtest.Context(s.t)
	c, err := s.js.OrderedConsumer(ctx, events.OrdersStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"orders.order." + orderID + ".>"}})
	if err != nil {
		s.t.Fatal(err)
	}
	var m jetstream.Msg
	for i := range n {
		if m, err = c.Next(jetstream.FetchMaxWait(10 * time.Second)); err != nil {
			s.t.Fatalf("waiting for event %d of order %s: %v", i+1, orderID, err)
		}
	}
	if got, want := m.Subject(), "orders.order."+orderID+"."+want; got != want {
		s.t.Fatalf("event %d of the order is %s, want %s", n, got, want)
	}
}

var total = events.Money{Amount: 900, Currency: "EUR"}

func placed(orderID string) events.OrderPlaced {
	return events.OrderPlaced{
		OrderID: orderID, CustomerID: "alice", Total: total, PaymentToken: "tok_visa", ExpiresAt: time.Now().Add(time.Hour),
		Items: []events.OrderItem{{ProductID: "mug", Name: "Mug", Quantity: 2, UnitPrice: events.Money{Amount: 450, Currency: "EUR"}}},
	}
}

// Inventory answers only orders that were placed, so an acceptance for an
// order this replica does not know yet is ahead of its state: on a loaded
// cluster, the placement another replica wrote had not reached it. It
// waits for the order instead of being dropped as "nothing to do", which
// lost the saga step and left the order to expire.
func TestAnAcceptanceAheadOfItsOrderWaitsForIt(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.publish(events.InventoryService, events.ReservationAccepted{OrderID: "o1", Lines: []events.Line{{ProductID: "mug", Quantity: 2}}})
	meshtest.AwaitRedelivered(t, s.js, events.InventoryStream, "orders-on-inventory")
	s.publish(events.OrdersService, placed("o1")) // another replica placed it

	s.awaitEvent("o1", 2, "stock_reserved")
}

// Payments charges only orders whose stock is reserved, so a capture for
// an order still pending here is ahead of the reservation's step.
func TestACaptureAheadOfTheReservationWaitsForIt(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.publish(events.OrdersService, placed("o2"))
	s.publish(events.PaymentsService, events.PaymentCaptured{PaymentID: "pay_o2", OrderID: "o2", Amount: total})
	meshtest.AwaitRedelivered(t, s.js, events.PaymentsStream, "orders-on-payments")
	s.publish(events.OrdersService, events.OrderStockReserved{OrderID: "o2", Total: total, PaymentToken: "tok_visa"})

	s.awaitEvent("o2", 3, "confirmed")
}

// An order's deadline is scheduled just before the order is recorded, so a
// crash in between leaves a timer whose order never existed. When it fires,
// nothing happens: no event, no dead letter.
func TestDeadlineOfAnOrderNeverRecordedChangesNothing(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := meshtest.Context(t)
	if _, err := s.js.Publish(ctx, events.DeadlineSubject("ghost"), []byte(`{"orderId":"ghost"}`)); err != nil {
		t.Fatal(err)
	}
	s.awaitIdle(events.OrdersStream, "orders-timers")
	if got := s.events(events.OrdersStream, "orders.order.ghost.>"); len(got) != 0 {
		t.Fatalf("the deadline of an unknown order wrote %d events", len(got))
	}
	if dead, err := ops.DeadLetters(ctx, s.js); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %v, %v", dead, err)
	}
}
