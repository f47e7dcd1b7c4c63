// Package app holds the payments service's use cases: charging orders that
// await payment, refunding, and reading payments.
package app

import (
	"context"
	"fmt"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/svc/payments/domain"
)

// Gateway takes money, once per key.
type Gateway interface {
	Charge(ctx context.Context, key, token string) (domain.Charge, error)
}

// Application is every use case of the payments service.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change payments.
type Commands struct {
	Charge mesh.CommandHandler[ChargeOrder]
	Close  mesh.CommandHandler[CloseOrder]
	Refund mesh.CommandHandler[RefundPayment]
}

// Queries read payments.
type Queries struct {
	Get  mesh.QueryHandler[GetPayment, Payment]
	List mesh.QueryHandler[ListPayments, PaymentPage]
}

// New builds the application with logging and metrics around every handler.
// Decisions read state; queries read the read model.
func New(state State, reads ReadModel, w Writer, g Gateway, o observe.Observer) Application {
	h := handlers{state: state, reads: reads, writer: w, gateway: g}
	return Application{
		Commands: Commands{
			Charge: mesh.Observed("payments.charge", o, mesh.CommandFunc[ChargeOrder](h.charge)),
			Close:  mesh.Observed("payments.close", o, mesh.CommandFunc[CloseOrder](h.close)),
			Refund: mesh.Observed("payments.refund", o, mesh.CommandFunc[RefundPayment](h.refund)),
		},
		Queries: Queries{
			Get:  mesh.ObservedQuery("payments.get", o, mesh.QueryFunc[GetPayment, Payment](h.get)),
			List: mesh.ObservedQuery("payments.list", o, mesh.QueryFunc[ListPayments, PaymentPage](h.list)),
		},
	}
}

type handlers struct {
	state   State
	reads   ReadModel
	writer  Writer
	gateway Gateway
}

// ChargeOrder charges an order that awaits payment.
type ChargeOrder struct {
	Cause   mesh.Cause
	OrderID string
	Amount  events.Money
	Token   string
}

// CloseOrder follows an order that ended unshipped.
type CloseOrder struct {
	Cause   mesh.Cause
	OrderID string
	Reason  string
}

// RefundPayment gives a captured payment back.
type RefundPayment struct {
	RequestID string
	PaymentID string
	Reason    string
}

// GetPayment reads one payment.
type GetPayment struct{ ID string }

// ListPayments reads a page of payments, by order id; an empty OrderID or
// Status matches all.
type ListPayments struct {
	OrderID string
	Status  string
	Cursor  string
	Limit   int
}

func (h handlers) charge(ctx context.Context, c ChargeOrder) error {
	snap, err := h.state.Read(c.OrderID)
	if err != nil || snap.Payment.Exists() {
		return err // decided before: never charge twice
	}
	result, err := h.gateway.Charge(ctx, c.OrderID, c.Token)
	if err != nil {
		return fmt.Errorf("charge order %s: %w", c.OrderID, err)
	}
	return h.write(ctx, c.Cause, c.OrderID, func(p domain.Payment) ([]events.Event, error) {
		return domain.Settle(p, c.OrderID, c.Amount, result), nil
	})
}

func (h handlers) close(ctx context.Context, c CloseOrder) error {
	return h.write(ctx, c.Cause, c.OrderID, func(p domain.Payment) ([]events.Event, error) {
		return domain.Close(p, c.OrderID, c.Reason), nil
	})
}

func (h handlers) refund(ctx context.Context, c RefundPayment) error {
	orderID, ok := domain.OrderOf(c.PaymentID)
	if !ok {
		return domain.ErrNotFound
	}
	return h.write(ctx, mesh.Cause{ID: c.RequestID}, orderID, func(p domain.Payment) ([]events.Event, error) {
		return domain.Refund(p, c.Reason)
	})
}

// write runs a decision over an order's payment with optimistic
// concurrency, all or none (Writer).
func (h handlers) write(ctx context.Context, cause mesh.Cause, orderID string, decide func(domain.Payment) ([]events.Event, error)) error {
	read := func() (Snapshot, error) { return h.state.Read(orderID) }
	return mesh.Decide(ctx, h.writer, cause.CorrelatedWith(orderID), read, func(s Snapshot) ([]events.Event, error) {
		return decide(s.Payment)
	})
}

func (h handlers) get(ctx context.Context, q GetPayment) (Payment, error) {
	return h.reads.Get(ctx, q.ID)
}

func (h handlers) list(_ context.Context, q ListPayments) (PaymentPage, error) {
	return h.reads.List(Filter{OrderID: q.OrderID, Status: q.Status}, q.Cursor, q.Limit)
}
