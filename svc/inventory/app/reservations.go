package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
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
	if err := h.beforeRejecting(ctx, c, ids); err != nil {
		return err
	}
	return h.write(ctx, c.Cause, c.OrderID, ids, func(s Snapshot) ([]events.Event, error) {
		return domain.Reserve(s.Reservation, c.OrderID, c.Lines, s.Shelf), nil
	})
}

// beforeRejecting catches up with every stream inventory reads when the
// order would be rejected, so that the rejection is decided on all there
// is. A rejection writes nothing on the products, so neither JetStream nor
// the writer would notice state that lags: a product created a moment ago
// (it would be "unknown"), or a hold of this order that an attempt cut
// short by a crash wrote just before (it would never be given back).
// Rejections are rare; catching up costs a stream-info request per stream.
func (h handlers) beforeRejecting(ctx context.Context, c Reserve, ids []string) error {
	snap, err := h.state.Read(c.OrderID, ids...)
	if err != nil {
		return err
	}
	evs := domain.Reserve(snap.Reservation, c.OrderID, c.Lines, snap.Shelf)
	if len(evs) == 0 {
		return nil
	}
	if _, rejecting := evs[len(evs)-1].(events.ReservationRejected); rejecting {
		return h.writer.CatchUp(ctx)
	}
	return nil
}

func (h handlers) release(ctx context.Context, c Release) error {
	return h.write(ctx, c.Cause, c.OrderID, nil, func(s Snapshot) ([]events.Event, error) {
		return domain.Release(s.Reservation, c.OrderID, c.Reason), nil
	})
}

func (h handlers) commit(ctx context.Context, c Commit) error {
	return h.write(ctx, c.Cause, c.OrderID, nil, func(s Snapshot) ([]events.Event, error) {
		return domain.Commit(s.Reservation, c.OrderID)
	})
}
