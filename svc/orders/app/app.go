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

// order reads, for a decision, the order's state and where it stood, and
// the catalog entries of the products given.
func (h handlers) order(orderID string, productIDs ...string) func() (store.Snapshot, error) {
	return func() (store.Snapshot, error) { return h.Store.Read(orderID, productIDs...) }
}

// transition decides one change of an order from its current state.
func (h handlers) transition(ctx context.Context, cause mesh.Cause, orderID string, decide func(domain.Order) ([]events.Event, error)) error {
	return mesh.Decide(ctx, h.Writer, cause.CorrelatedWith(orderID), h.order(orderID), func(s store.Snapshot) ([]events.Event, error) {
		return decide(s.Order)
	})
}

// later marks an answer that arrived ahead of the order's own step to be
// tried again once that step is applied (mesh.NotYet).
func later(err error) error {
	if errors.Is(err, domain.ErrNotYet) {
		return mesh.NotYet(err)
	}
	return err
}
