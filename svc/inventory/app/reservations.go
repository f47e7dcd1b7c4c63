package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
	"github.com/shopmesh/shopmesh/svc/inventory/store"
)

// Reserve takes stock for every line of a placed order, or for none.
type Reserve struct {
	Cause   mesh.Cause
	OrderID string
	Lines   []events.Line
}

// Release gives back an order's stock when the order ended unshipped.
type Release struct {
	Cause   mesh.Cause
	OrderID string
	Reason  string
}

// Commit ships a confirmed order's reserved stock.
type Commit struct {
	Cause   mesh.Cause
	OrderID string
}

func (h handlers) reserve(ctx context.Context, c Reserve) error {
	ids := make([]string, len(c.Lines))
	for i, l := range c.Lines {
		ids[i] = l.ProductID
	}
	if err := h.knowProducts(ctx, ids); err != nil {
		return err
	}
	return h.write(ctx, c.Cause, c.OrderID, ids, func(s store.Snapshot) ([]events.Event, error) {
		return domain.Reserve(s.Reservation, c.OrderID, c.Lines, s.Shelf), nil
	})
}

// knowProducts catches up with the catalog once if a product is unknown: a
// reservation naming it would be rejected, which is a decision, not an
// error, so the writer's own catch-up would not come into play.
func (h handlers) knowProducts(ctx context.Context, ids []string) error {
	snap, err := h.store.Read("", ids...)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !snap.Shelf.Products[id].Exists() {
			return h.proj.CatchUp(ctx, events.ProductsStream)
		}
	}
	return nil
}

func (h handlers) release(ctx context.Context, c Release) error {
	return h.write(ctx, c.Cause, c.OrderID, nil, func(s store.Snapshot) ([]events.Event, error) {
		return domain.Release(s.Reservation, c.OrderID, c.Reason), nil
	})
}

func (h handlers) commit(ctx context.Context, c Commit) error {
	return h.write(ctx, c.Cause, c.OrderID, nil, func(s store.Snapshot) ([]events.Event, error) {
		return domain.Commit(s.Reservation), nil
	})
}
