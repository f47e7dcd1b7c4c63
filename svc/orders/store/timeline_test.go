package store

import (
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// A product's stock events are read within the order's lifetime only, and
// at most maxScan of them; past that the timeline says it is partial.
func TestTimelineOfABusyProductIsBounded(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	ctx := meshtest.Context(t)
	streams := []mesh.StreamSpec{mesh.StreamSpec(events.OrdersStreamSpec), mesh.StreamSpec(events.InventoryStreamSpec),
		mesh.StreamSpec(events.PaymentsStreamSpec)}
	for _, spec := range streams {
		if err := mesh.ProvisionStream(ctx, n.JS, n.Storage, spec); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(service string, e mesh.Event) {
		cause := mesh.Cause{ID: e.EventSubject() + time.Now().String()}
		if _, err := n.Publisher(service).Publish(ctx, cause, mesh.Outgoing{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	placed := time.Now()
	publish(events.OrdersService, events.OrderPlaced{OrderID: "o1", CustomerID: "alice"})
	for i := range 8 { // other orders' holds on the same product
		publish(events.InventoryService, events.StockReserved{ProductID: "p", OrderID: "other", Quantity: int64(i + 1)})
	}
	publish(events.InventoryService, events.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 1})
	order := View{ID: "o1", Status: "pending", CreatedAt: placed, Items: []events.OrderItem{{ProductID: "p"}}}

	whole := &Timeline{js: n.JS, maxScan: 100}
	h, err := whole.For(ctx, order)
	if err != nil {
		t.Fatal(err)
	}
	if h.Partial || len(h.Entries) != 2 || h.Entries[1].Subject != "inventory.stock.p.reserved" {
		t.Fatalf("timeline %+v, want placed and its own hold", h)
	}
	capped := &Timeline{js: n.JS, maxScan: 5}
	if h, err := capped.For(ctx, order); err != nil || !h.Partial {
		t.Fatalf("timeline past maxScan %+v %v, want partial", h, err)
	}
}
