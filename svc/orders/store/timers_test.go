package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// An order that ends takes its deadline with it: the event that ends it
// purges the timer as it is stored, so the deadline never fires, and a
// timer that fires is purged by the server. Both timers are due in the
// same second, so once the one left alone has fired, the server has passed
// the other's time too. What is left is the events and the one deadline
// that fired: no timer, and no subject of one.
func TestTheEventThatEndsAnOrderTakesItsDeadlineWithIt(t *testing.T) {
	t.Parallel()
	ctx, js := ordersOnNewServer(t)
	orders, err := js.Stream(ctx, events.OrdersStream)
	if err != nil {
		t.Fatal(err)
	}
	timers := NewTimers(js)
	at := time.Now().Add(2 * time.Second) // the order ends well before
	for _, id := range []string{"open", "ended"} {
		if err := timers.Schedule(ctx, id, at); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(e mesh.Event) {
		t.Helper()
		pub := mesh.NewPublisher(js, "shopmesh/orders", nil)
		if _, err := pub.Publish(ctx, mesh.Cause{ID: e.EventSubject()}, mesh.Outgoing{Event: e}); err != nil {
			t.Fatalf("publish %s: %v", e.EventSubject(), err)
		}
	}
	publish(events.OrderConfirmed{OrderID: "ended", PaymentID: "pay_ended"})
	fired := awaitDeadline(ctx, t, orders)
	if fired != events.DeadlineSubject("open") {
		t.Fatalf("fired %s; want only the deadline of the order still open", fired)
	}
	if _, err := orders.GetLastMsgForSubject(ctx, events.DeadlineSubject("ended")); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the deadline of the order that ended: %v; want it never fired", err)
	}
	publish(events.OrderExpired{OrderID: "open"}) // its timer is gone already: nothing to purge, still stored
	info, err := orders.Info(ctx, jetstream.WithSubjectFilter("orders.>"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"orders.deadline.open", "orders.order.ended.confirmed", "orders.order.open.expired"}
	var got []string
	for s := range info.State.Subjects {
		got = append(got, s)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the stream holds %v; want %v", got, want)
	}
}

// awaitDeadline returns the subject of the first deadline that fires.
func awaitDeadline(ctx context.Context, t *testing.T, orders jetstream.Stream) string {
	t.Helper()
	c, err := orders.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"orders.deadline.>"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(20 * time.Second))
	if err != nil {
		t.Fatalf("no deadline fired: %v", err)
	}
	return m.Subject()
}

// A message that is not a schedule on an order's timer subject (forged
// there) makes the server refuse to purge it; the event that ends the
// order is stored all the same, without the purge: an order can always end.
func TestAnOrderEndsThoughItsTimerSubjectHoldsAStranger(t *testing.T) {
	t.Parallel()
	ctx, js := ordersOnNewServer(t)
	if _, err := js.Publish(ctx, events.TimerSubject("o1"), []byte("not a schedule")); err != nil {
		t.Fatal(err)
	}
	pub := mesh.NewPublisher(js, "shopmesh/orders", nil)
	confirmed := events.OrderConfirmed{OrderID: "o1", PaymentID: "pay_o1"}
	if _, err := pub.Publish(ctx, mesh.Cause{ID: "c1"}, mesh.Outgoing{Event: confirmed}); err != nil {
		t.Fatalf("the order could not end: %v", err)
	}
}

// ordersOnNewServer provisions the ORDERS stream on a server of its own.
func ordersOnNewServer(t *testing.T) (context.Context, jetstream.JetStream) {
	t.Helper()
	js := meshtest.JetStream(t, meshtest.Server(t))
	ctx := meshtest.Context(t)
	if err := mesh.ProvisionStream(ctx, js, mesh.Storage{}, mesh.StreamSpec(events.OrdersStreamSpec)); err != nil {
		t.Fatal(err)
	}
	return ctx, js
}
