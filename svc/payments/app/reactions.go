package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
)

// OrderEvents are the order events payments reacts to.
var OrderEvents = events.Patterns(events.OrderStockReserved{}, events.OrderCancelled{}, events.OrderExpired{})

// OnOrder charges orders that await payment and closes those that ended.
func (a Application) OnOrder(ctx context.Context, e mesh.Envelope) error {
	ev, err := events.Decode(e.Type, e.Data)
	if err != nil {
		return mesh.Permanent(err)
	}
	cause := mesh.CausedBy(e)
	switch ev := ev.(type) {
	case events.OrderStockReserved:
		return a.Commands.Charge.Handle(ctx, ChargeOrder{Cause: cause, OrderID: ev.OrderID, Amount: ev.Total, Token: ev.PaymentToken})
	case events.OrderCancelled:
		return a.Commands.Close.Handle(ctx, CloseOrder{Cause: cause, OrderID: ev.OrderID, Reason: "order cancelled"})
	case events.OrderExpired:
		return a.Commands.Close.Handle(ctx, CloseOrder{Cause: cause, OrderID: ev.OrderID, Reason: "order expired"})
	}
	return nil
}
