package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// An order's timeline holds its own events from every service, its holds
// on a busy product among them, and nothing of the other orders on that
// product: it is read from the order's index, event by event, not by
// scanning the product's history. An event removed since is left out.
func TestTimelineIsReadFromTheOrdersIndex(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	ctx := meshtest.Context(t)
	for _, spec := range events.Streams {
		if err := mesh.ProvisionStream(ctx, n.JS, n.Storage, mesh.StreamSpec(spec)); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(service string, e mesh.Event) uint64 {
		cause := mesh.Cause{ID: e.EventSubject() + time.Now().String()}
		seq, err := n.Publisher(service).Publish(ctx, cause, mesh.Outgoing{Event: e})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	publish(events.OrdersService, events.OrderPlaced{OrderID: "o1", CustomerID: "alice"})
	for i := range 200 { // other orders' holds on the same product
		publish(events.InventoryService, events.StockReserved{ProductID: "p", OrderID: "other", Quantity: int64(i + 1)})
	}
	publish(events.InventoryService, events.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 1})
	accepted := publish(events.InventoryService, events.ReservationAccepted{OrderID: "o1"})
	publish(events.PaymentsService, events.PaymentCaptured{PaymentID: "pay", OrderID: "o1", Amount: events.Money{Amount: 1, Currency: "EUR"}})

	index, catchUp := projected(t, n)
	got, err := NewTimeline(n.JS, index, catchUp).For(ctx, "o1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"orders.order.o1.placed", "inventory.stock.p.reserved", "inventory.reservation.o1.accepted", "payments.payment.o1.captured"}
	if len(got) != len(want) {
		t.Fatalf("timeline %+v, want %v", got, want)
	}
	for i, e := range got {
		if e.Subject != want[i] {
			t.Fatalf("event %d is %s, want %s", i, e.Subject, want[i])
		}
	}

	inventory, _ := n.JS.Stream(ctx, events.InventoryStream)
	if err := inventory.DeleteMsg(ctx, accepted); err != nil {
		t.Fatal(err)
	}
	if got, err := NewTimeline(n.JS, index, catchUp).For(ctx, "o1"); err != nil || len(got) != 3 {
		t.Fatalf("timeline after a removal %+v %v, want the other three", got, err)
	}
}

// projected projects the timeline's streams into an index, as the service
// does.
func projected(t *testing.T, n *mesh.Node) (*TimelineIndex, func(context.Context) error) {
	t.Helper()
	db, _, err := mesh.OpenDB(filepath.Join(t.TempDir(), "orders-timeline.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mesh.CloseDB(db) })
	index, err := NewTimelineIndex(db)
	if err != nil {
		t.Fatal(err)
	}
	p := mesh.NewProjection(db, n.JS, TimelineStreams(), index, nil, n.Log)
	p.Index = true
	if err := p.Start(meshtest.Context(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return index, p.CatchUpAll
}
