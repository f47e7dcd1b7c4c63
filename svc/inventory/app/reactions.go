package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
)

// OrderEvents are the order events inventory reacts to.
var OrderEvents = events.Patterns(
	events.OrderPlaced{}, events.OrderConfirmed{},
	events.OrderRejected{}, events.OrderCancelled{}, events.OrderExpired{},
)

// OnOrder turns an order event into a reservation command.
func (a Application) OnOrder(ctx context.Context, e mesh.Envelope) error {
	ev, err := events.Decode(e.Type, e.Data)
	if err != nil {
		return mesh.Permanent(err)
	}
	cause := mesh.CausedBy(e)
	switch ev := ev.(type) {
	case events.OrderPlaced:
		lines := make([]events.Line, len(ev.Items))
		for i, it := range ev.Items {
			lines[i] = events.Line{ProductID: it.ProductID, Quantity: it.Quantity}
		}
		return a.Commands.Reserve.Handle(ctx, Reserve{Cause: cause, OrderID: ev.OrderID, Lines: lines})
	case events.OrderConfirmed:
		return mesh.NotYetIf(a.Commands.Commit.Handle(ctx, Commit{Cause: cause, OrderID: ev.OrderID}), domain.ErrNotYet)
	case events.OrderRejected:
		return a.Commands.Release.Handle(ctx, Release{Cause: cause, OrderID: ev.OrderID, Reason: "order rejected"})
	case events.OrderCancelled:
		if ev.WasConfirmed {
			// A paid order's stock left the shelf, even when this arrives
			// before its confirmation (a redelivery after a failed try):
			// commit it; the confirmation then finds nothing to do.
			return mesh.NotYetIf(a.Commands.Commit.Handle(ctx, Commit{Cause: cause, OrderID: ev.OrderID}), domain.ErrNotYet)
		}
		return a.Commands.Release.Handle(ctx, Release{Cause: cause, OrderID: ev.OrderID, Reason: "order cancelled"})
	case events.OrderExpired:
		return a.Commands.Release.Handle(ctx, Release{Cause: cause, OrderID: ev.OrderID, Reason: "order expired"})
	}
	return nil
}
