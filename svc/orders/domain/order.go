// Package domain holds the order lifecycle: what a valid order is, how it
// moves from pending to a terminal status as the other services answer, and
// what a customer may do to it.
package domain

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

// Statuses of an order.
const (
	StatusPending         = "pending"
	StatusAwaitingPayment = "awaiting_payment"
	StatusConfirmed       = "confirmed"
	StatusRejected        = "rejected"
	StatusCancelled       = "cancelled"
	StatusExpired         = "expired"
)

// Errors of the order rules.
var (
	ErrNotFound            = errors.New("order not found")
	ErrNotCancellable      = errors.New("order has already ended")
	ErrIdempotencyMismatch = errors.New("idempotency key was used for a different order")
	// ErrCaptureMismatch is a capture that cannot pay the order it names:
	// the amount is not its total. It is never applied; the order stays unpaid, and an expired order's money is
	// refunded by payments (ADR 4).
	ErrCaptureMismatch = errors.New("capture does not pay its order")
	// ErrAlreadyPlaced means the same request was placed before: success
	// for a retry.
	ErrAlreadyPlaced = errors.New("order already placed")
	// ErrNotYet is an answer that arrived ahead of the order's own step
	// it follows: inventory answers a placed order, payments a reserved
	// one. The answer is right, the state that decided on it lags; it is
	// decided again once that step is applied.
	ErrNotYet = errors.New("the order has not reached the step this answers yet")
)

// Order is one order as its events built it.
type Order struct {
	ID           string
	CustomerID   string
	Items        []events.OrderItem
	Total        events.Money
	PaymentToken string
	Status       string
	Reason       string
	PaymentID    string
	ExpiresAt    time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int64
	RequestHash  string
}

// Exists reports whether the order was placed.
func (o Order) Exists() bool { return o.Status != "" }

// Terminal reports whether the order has reached its final status.
func (o Order) Terminal() bool {
	switch o.Status {
	case StatusConfirmed, StatusRejected, StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// open reports whether the order still waits for stock or payment.
func (o Order) open() bool {
	return o.Status == StatusPending || o.Status == StatusAwaitingPayment
}

// notPlaced is ErrNotYet for an answer about an order not known here: it
// was placed, or nobody would answer it.
func notPlaced(orderID string) error {
	return fmt.Errorf("%w: order %s is not known yet", ErrNotYet, orderID)
}

// ReservationAccepted moves a pending order on to payment.
func ReservationAccepted(o Order, orderID string) ([]events.Event, error) {
	if !o.Exists() {
		return nil, notPlaced(orderID)
	}
	if o.Status != StatusPending {
		return nil, nil
	}
	return []events.Event{events.OrderStockReserved{OrderID: o.ID, Total: o.Total, PaymentToken: o.PaymentToken}}, nil
}

// ReservationRejected ends a pending order that could not be stocked.
func ReservationRejected(o Order, orderID, reason string, products []string) ([]events.Event, error) {
	if !o.Exists() {
		return nil, notPlaced(orderID)
	}
	if o.Status != StatusPending {
		return nil, nil
	}
	return []events.Event{events.OrderRejected{OrderID: o.ID, Reason: reason, Products: products}}, nil
}

// PaymentCaptured confirms an order awaiting payment. A capture for an
// order that already ended is refunded by payments, not confirmed here.
// Payments charges only orders whose stock is reserved, so a capture for
// an order not known, or still pending, is ahead of the order's steps.
func PaymentCaptured(o Order, orderID, paymentID string, amount events.Money) ([]events.Event, error) {
	switch {
	case !o.Exists():
		return nil, notPlaced(orderID)
	case amount != o.Total:
		return nil, fmt.Errorf("%w: captured %d %s of a total of %d %s", ErrCaptureMismatch,
			amount.Amount, amount.Currency, o.Total.Amount, o.Total.Currency)
	case o.Status == StatusPending:
		return nil, fmt.Errorf("%w: order %s still waits for its stock", ErrNotYet, o.ID)
	case o.Status != StatusAwaitingPayment:
		return nil, nil
	}
	return []events.Event{events.OrderConfirmed{OrderID: o.ID, PaymentID: paymentID}}, nil
}

// PaymentDeclined cancels an order whose payment failed.
func PaymentDeclined(o Order, orderID, reason string) ([]events.Event, error) {
	if !o.Exists() {
		return nil, notPlaced(orderID)
	}
	if !o.open() {
		return nil, nil
	}
	return []events.Event{events.OrderCancelled{OrderID: o.ID, Reason: "payment declined: " + reason}}, nil
}

// PaymentRefunded cancels a confirmed order whose money was given back.
// Only captured money is refunded, and a capture is for an order whose
// stock is reserved: a refund for an order still open is ahead of its
// confirmation, and one for an order ended otherwise (expired, cancelled)
// is payments closing it, which changes nothing here.
func PaymentRefunded(o Order, orderID string) ([]events.Event, error) {
	switch {
	case !o.Exists():
		return nil, notPlaced(orderID)
	case o.open():
		return nil, fmt.Errorf("%w: order %s is not confirmed yet", ErrNotYet, o.ID)
	case o.Status != StatusConfirmed:
		return nil, nil
	}
	return []events.Event{events.OrderCancelled{OrderID: o.ID, Reason: "payment refunded", WasConfirmed: true}}, nil
}

// Cancel is the customer ending an order: before payment it releases the
// stock, after confirmation it also refunds.
func Cancel(o Order, reason string) ([]events.Event, error) {
	switch {
	case !o.Exists():
		return nil, ErrNotFound
	case o.open():
		return []events.Event{events.OrderCancelled{OrderID: o.ID, Reason: reason}}, nil
	case o.Status == StatusConfirmed:
		return []events.Event{events.OrderCancelled{OrderID: o.ID, Reason: reason, WasConfirmed: true}}, nil
	}
	return nil, ErrNotCancellable
}

// ClockSkew is how far the clock that fires deadlines (the NATS server's)
// may run ahead of this service's.
const ClockSkew = 5 * time.Second

// Expire ends an order whose payment deadline passed while it was open. A
// deadline that fires well before the order's own (one scheduled by an
// earlier attempt to place it) changes nothing: the order's timer comes
// later.
func Expire(o Order, now time.Time) []events.Event {
	if !o.open() || now.Add(ClockSkew).Before(o.ExpiresAt) {
		return nil
	}
	return []events.Event{events.OrderExpired{OrderID: o.ID, Reason: "payment did not arrive in time"}}
}

// Evolve applies one recorded event at time at.
func Evolve(o Order, e events.Event, at time.Time) Order {
	switch e := e.(type) {
	case events.OrderPlaced:
		o = Order{
			ID: e.OrderID, CustomerID: e.CustomerID, Items: e.Items, Total: e.Total, PaymentToken: e.PaymentToken,
			Status: StatusPending, ExpiresAt: e.ExpiresAt, CreatedAt: at, RequestHash: e.RequestHash,
		}
	case events.OrderStockReserved:
		o.Status = StatusAwaitingPayment
	case events.OrderConfirmed:
		o.Status, o.PaymentID = StatusConfirmed, e.PaymentID
	case events.OrderRejected:
		o.Status, o.Reason = StatusRejected, e.Reason
	case events.OrderCancelled:
		o.Status, o.Reason = StatusCancelled, e.Reason
	case events.OrderExpired:
		o.Status, o.Reason = StatusExpired, e.Reason
	default:
		return o
	}
	o.UpdatedAt = at
	o.Version++
	return o
}
