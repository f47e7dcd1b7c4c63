package app

import (
	"context"
	"errors"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
)

// PlaceOrder places an order under an id the caller derived (from the
// Idempotency-Key, so a retry lands on the same order).
type PlaceOrder struct {
	RequestID    string
	OrderID      string
	CustomerID   string
	Lines        []domain.Line
	PaymentToken string
	RequestHash  string
}

// CancelOrder is the customer ending an order.
type CancelOrder struct {
	RequestID string
	OrderID   string
	Reason    string
}

// RecordReservation follows inventory's answer to a placed order.
type RecordReservation struct {
	Cause    mesh.Cause
	OrderID  string
	Accepted bool
	Reason   string
	Products []string
}

// RecordCapture follows payments' capture of an order's total.
type RecordCapture struct {
	Cause     mesh.Cause
	OrderID   string
	PaymentID string
	Amount    events.Money
}

// RecordDecline follows payments' failure to charge an order.
type RecordDecline struct {
	Cause   mesh.Cause
	OrderID string
	Reason  string
}

// RecordRefund follows payments giving an order's money back.
type RecordRefund struct {
	Cause   mesh.Cause
	OrderID string
}

// ExpireOrder ends an order whose payment deadline fired.
type ExpireOrder struct {
	Cause   mesh.Cause
	OrderID string
}

func (h handlers) place(ctx context.Context, c PlaceOrder) error {
	ids := make([]string, len(c.Lines))
	for i, l := range c.Lines {
		ids[i] = l.ProductID
	}
	p := domain.Placement{
		OrderID: c.OrderID, CustomerID: c.CustomerID, Lines: c.Lines, PaymentToken: c.PaymentToken,
		RequestHash: c.RequestHash, Now: h.Now(), TTL: h.TTL,
	}
	cause := mesh.Cause{ID: c.RequestID, CorrelationID: c.OrderID}
	return mesh.Decide(ctx, h.Writer, cause, h.order(c.OrderID, ids...), func(snap Snapshot) ([]events.OrderPlaced, error) {
		e, err := domain.Place(snap.Order, p, snap.Catalog)
		if errors.Is(err, domain.ErrAlreadyPlaced) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		// A new order is refused while the orders already open could not
		// end before their deadline (a *mesh.Busy, 503).
		if err := h.Admission.Admit(); err != nil {
			return nil, err
		}
		// The deadline is scheduled before the order is recorded, so that
		// no crash leaves an order without one. Scheduling it again, when
		// this decision is taken again, is a duplicate the server drops.
		if err := h.Timers.Schedule(ctx, c.OrderID, e.ExpiresAt); err != nil {
			return nil, err
		}
		return []events.OrderPlaced{e}, nil
	})
}

func (h handlers) cancel(ctx context.Context, c CancelOrder) error {
	return h.transition(ctx, mesh.Cause{ID: c.RequestID}, c.OrderID, func(o domain.Order) ([]events.Event, error) {
		return domain.Cancel(o, c.Reason)
	})
}

func (h handlers) recordReservation(ctx context.Context, c RecordReservation) error {
	return h.transition(ctx, c.Cause, c.OrderID, func(o domain.Order) ([]events.Event, error) {
		if c.Accepted {
			return domain.ReservationAccepted(o, c.OrderID)
		}
		return domain.ReservationRejected(o, c.OrderID, c.Reason, c.Products)
	})
}

func (h handlers) recordCapture(ctx context.Context, c RecordCapture) error {
	return h.transition(ctx, c.Cause, c.OrderID, func(o domain.Order) ([]events.Event, error) {
		evs, err := domain.PaymentCaptured(o, c.OrderID, c.PaymentID, c.Amount)
		if errors.Is(err, domain.ErrCaptureMismatch) {
			return nil, mesh.Permanent(err) // set aside, with its reason
		}
		return evs, err
	})
}

func (h handlers) recordDecline(ctx context.Context, c RecordDecline) error {
	return h.transition(ctx, c.Cause, c.OrderID, func(o domain.Order) ([]events.Event, error) {
		return domain.PaymentDeclined(o, c.OrderID, c.Reason)
	})
}

func (h handlers) recordRefund(ctx context.Context, c RecordRefund) error {
	return h.transition(ctx, c.Cause, c.OrderID, func(o domain.Order) ([]events.Event, error) {
		return domain.PaymentRefunded(o, c.OrderID)
	})
}

func (h handlers) expire(ctx context.Context, c ExpireOrder) error {
	// Most deadlines fire for orders that ended long ago. An ended order
	// never changes again, so there is nothing to catch up with.
	if snap, err := h.Orders.Read(c.OrderID); err == nil && snap.Order.Terminal() {
		return nil
	}
	return h.transition(ctx, c.Cause, c.OrderID, func(o domain.Order) ([]events.Event, error) {
		return domain.Expire(o, h.Now()), nil
	})
}
