// Package domain holds the payment rules: one payment per order, captured
// at most once, refunded at most once, and never left captured for an order
// that did not go through.
package domain

import (
	"errors"
	"strings"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

// Payment statuses.
const (
	StatusCaptured = "captured"
	StatusDeclined = "declined"
	StatusRefunded = "refunded"
)

// Errors of the payment rules.
var (
	ErrNotFound      = errors.New("payment not found")
	ErrNotRefundable = errors.New("only a captured payment can be refunded")
)

// Payment is an order's payment as its events built it.
type Payment struct {
	ID        string
	OrderID   string
	Status    string
	Amount    events.Money
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// Exists reports whether anything was decided for the order's payment.
func (p Payment) Exists() bool { return p.Status != "" }

// IDFor is the payment id of an order: one payment per order.
func IDFor(orderID string) string { return "pay_" + orderID }

// OrderOf returns the order id a payment id belongs to, the inverse of IDFor.
func OrderOf(paymentID string) (string, bool) {
	return strings.CutPrefix(paymentID, "pay_")
}

// Charge is what the gateway answered.
type Charge struct {
	Captured bool
	Reason   string
}

// Settle records the gateway's answer for an order. If the order ended
// while the gateway was busy (the payment was closed meanwhile) and money
// was taken anyway, it is captured and refunded at once.
func Settle(p Payment, orderID string, amount events.Money, c Charge) []events.Event {
	id := IDFor(orderID)
	switch {
	case !p.Exists() && c.Captured:
		return []events.Event{events.PaymentCaptured{PaymentID: id, OrderID: orderID, Amount: amount}}
	case !p.Exists():
		return []events.Event{events.PaymentDeclined{PaymentID: id, OrderID: orderID, Reason: c.Reason}}
	case p.Status == StatusDeclined && c.Captured:
		return []events.Event{
			events.PaymentCaptured{PaymentID: id, OrderID: orderID, Amount: amount},
			events.PaymentRefunded{PaymentID: id, OrderID: orderID, Amount: amount, Reason: "payment arrived after the order ended"},
		}
	}
	return nil
}

// Close follows an order that ended without shipping: captured money is
// refunded; a payment not yet made is declined, so no later charge happens.
func Close(p Payment, orderID, reason string) []events.Event {
	id := IDFor(orderID)
	switch p.Status {
	case "":
		return []events.Event{events.PaymentDeclined{PaymentID: id, OrderID: orderID, Reason: reason + " before payment"}}
	case StatusCaptured:
		return []events.Event{events.PaymentRefunded{PaymentID: id, OrderID: orderID, Amount: p.Amount, Reason: reason}}
	}
	return nil
}

// Refund gives back a captured payment on an admin's request.
func Refund(p Payment, reason string) ([]events.Event, error) {
	switch {
	case !p.Exists():
		return nil, ErrNotFound
	case p.Status != StatusCaptured:
		return nil, ErrNotRefundable
	}
	return []events.Event{events.PaymentRefunded{PaymentID: p.ID, OrderID: p.OrderID, Amount: p.Amount, Reason: reason}}, nil
}

// Evolve applies one recorded event at time at.
func Evolve(p Payment, e events.Event, at time.Time) Payment {
	switch e := e.(type) {
	case events.PaymentCaptured:
		p.ID, p.OrderID, p.Status, p.Amount, p.Reason = e.PaymentID, e.OrderID, StatusCaptured, e.Amount, ""
	case events.PaymentDeclined:
		p.ID, p.OrderID, p.Status, p.Reason = e.PaymentID, e.OrderID, StatusDeclined, e.Reason
	case events.PaymentRefunded:
		p.Status, p.Reason = StatusRefunded, e.Reason
	default:
		return p
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = at
	}
	p.UpdatedAt = at
	p.Version++
	return p
}
