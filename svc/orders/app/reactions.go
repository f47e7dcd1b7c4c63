package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
)

// Subjects each reaction of the orders service listens to, named by the
// event types it handles.
var (
	InventoryEvents = events.Patterns(events.ReservationAccepted{}, events.ReservationRejected{})
	PaymentEvents   = events.Patterns(events.PaymentCaptured{}, events.PaymentDeclined{}, events.PaymentRefunded{})
	DeadlineEvents  = []string{events.DeadlineSubject("*")}
)

// OnInventory follows inventory's answer to an order.
func (a Application) OnInventory(ctx context.Context, e mesh.Envelope) error {
	ev, err := events.Decode(e.Type, e.Data)
	if err != nil {
		return mesh.Permanent(err)
	}
	cmd := RecordReservation{Cause: mesh.CausedBy(e)}
	switch ev := ev.(type) {
	case events.ReservationAccepted:
		cmd.OrderID, cmd.Accepted = ev.OrderID, true
	case events.ReservationRejected:
		cmd.OrderID, cmd.Reason = ev.OrderID, ev.Reason
		cmd.Products = make([]string, len(ev.Shortages))
		for i, s := range ev.Shortages {
			cmd.Products[i] = s.ProductID
		}
	default:
		return nil
	}
	// An answer ahead of the order's own step is tried again once that
	// step is applied.
	return mesh.NotYetIf(a.Commands.RecordReservation.Handle(ctx, cmd), domain.ErrNotYet)
}

// OnPayment follows a payment's outcome: each kind of event is a command
// of its own.
func (a Application) OnPayment(ctx context.Context, e mesh.Envelope) error {
	ev, err := events.Decode(e.Type, e.Data)
	if err != nil {
		return mesh.Permanent(err)
	}
	cause := mesh.CausedBy(e)
	switch ev := ev.(type) {
	case events.PaymentCaptured:
		err = a.Commands.RecordCapture.Handle(ctx, RecordCapture{Cause: cause, OrderID: ev.OrderID, PaymentID: ev.PaymentID, Amount: ev.Amount})
	case events.PaymentDeclined:
		err = a.Commands.RecordDecline.Handle(ctx, RecordDecline{Cause: cause, OrderID: ev.OrderID, Reason: ev.Reason})
	case events.PaymentRefunded:
		err = a.Commands.RecordRefund.Handle(ctx, RecordRefund{Cause: cause, OrderID: ev.OrderID})
	}
	return mesh.NotYetIf(err, domain.ErrNotYet)
}

// OnDeadline expires an order whose payment deadline fired, if it is still
// open. A fired timer carries no envelope of its own; an order has one
// deadline, so its id names the cause.
func (a Application) OnDeadline(ctx context.Context, e mesh.Envelope) error {
	orderID := events.IDOf(e.Subject)
	cause := mesh.Cause{ID: "deadline/" + orderID, CorrelationID: orderID}
	return a.Commands.Expire.Handle(ctx, ExpireOrder{Cause: cause, OrderID: orderID})
}
