// Package app holds the orders service's use cases: placing and cancelling
// orders, following them as inventory and payments answer, and reading them.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
	"github.com/shopmesh/shopmesh/svc/orders/store"
)

// Application is every use case of the orders service.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change orders.
type Commands struct {
	Place             mesh.CommandHandler[PlaceOrder]
	Cancel            mesh.CommandHandler[CancelOrder]
	RecordReservation mesh.CommandHandler[RecordReservation]
	RecordPayment     mesh.CommandHandler[RecordPayment]
	Expire            mesh.CommandHandler[ExpireOrder]
}

// Queries read orders.
type Queries struct {
	Get      mesh.QueryHandler[GetOrder, store.View]
	List     mesh.QueryHandler[ListOrders, store.Page]
	Timeline mesh.QueryHandler[GetTimeline, []store.Entry]
	Watch    mesh.QueryHandler[WatchOrders, <-chan store.View]
}

// Deps are what the use cases need from infrastructure.
type Deps struct {
	Store    *store.Store
	Writer   *mesh.Writer
	Proj     *mesh.Projection
	Timers   *store.Timers
	Timeline *store.Timeline
	// Admission refuses new orders while those open could not end in time.
	Admission *mesh.Admission
	// TTL is how long an order waits for payment.
	TTL time.Duration
	Now func() time.Time
}

// New builds the application with logging and metrics around every handler.
func New(d Deps, o observe.Observer) Application {
	h := handlers{d}
	return Application{
		Commands: Commands{
			Place:             mesh.Observed("orders.place", o, mesh.CommandFunc[PlaceOrder](h.place)),
			Cancel:            mesh.Observed("orders.cancel", o, mesh.CommandFunc[CancelOrder](h.cancel)),
			RecordReservation: mesh.Observed("orders.record_reservation", o, mesh.CommandFunc[RecordReservation](h.recordReservation)),
			RecordPayment:     mesh.Observed("orders.record_payment", o, mesh.CommandFunc[RecordPayment](h.recordPayment)),
			Expire:            mesh.Observed("orders.expire", o, mesh.CommandFunc[ExpireOrder](h.expire)),
		},
		Queries: Queries{
			Get:      mesh.ObservedQuery("orders.get", o, mesh.QueryFunc[GetOrder, store.View](h.get)),
			List:     mesh.ObservedQuery("orders.list", o, mesh.QueryFunc[ListOrders, store.Page](h.list)),
			Timeline: mesh.ObservedQuery("orders.timeline", o, mesh.QueryFunc[GetTimeline, []store.Entry](h.timeline)),
			Watch:    mesh.ObservedQuery("orders.watch", o, mesh.QueryFunc[WatchOrders, <-chan store.View](h.watch)),
		},
	}
}

type handlers struct{ Deps }

// transition runs a decision over one order's current state.
func (h handlers) transition(ctx context.Context, cause mesh.Cause, orderID string, decide func(domain.Order) ([]events.Event, error)) error {
	if cause.CorrelationID == "" {
		cause.CorrelationID = orderID
	}
	_, err := h.Writer.Write(ctx, cause, func() ([]mesh.Outgoing, error) {
		snap, err := h.Store.Read(orderID)
		if err != nil {
			return nil, err
		}
		evs, err := decide(snap.Order)
		if errors.Is(err, domain.ErrNotYet) {
			return nil, mesh.NotYet(err) // tried again once the step is applied
		}
		if err != nil {
			return nil, err
		}
		return mesh.Guard(evs, snap.Positions.Of), nil
	})
	return err
}
