// Package app holds the orders service's use cases: placing and cancelling
// orders, following them as inventory and payments answer, and reading them.
// It declares the ports it needs (ports.go); svc/orders/store implements
// them.
package app

import (
	"context"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
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
	RecordCapture     mesh.CommandHandler[RecordCapture]
	RecordDecline     mesh.CommandHandler[RecordDecline]
	RecordRefund      mesh.CommandHandler[RecordRefund]
	Expire            mesh.CommandHandler[ExpireOrder]
}

// Queries read orders.
type Queries struct {
	Get      mesh.QueryHandler[GetOrder, View]
	List     mesh.QueryHandler[ListOrders, Page]
	Timeline mesh.QueryHandler[GetTimeline, []Entry]
	Watch    mesh.QueryHandler[WatchOrders, <-chan View]
}

// Deps are what the use cases need from infrastructure, as the ports of
// ports.go.
type Deps struct {
	Orders   OrderReader
	Views    ReadModel
	Writer   Writer
	Timers   Timers
	Timeline Timeline
	// Admission refuses new orders while those open could not end in time.
	Admission Admission
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
			RecordCapture:     mesh.Observed("orders.record_capture", o, mesh.CommandFunc[RecordCapture](h.recordCapture)),
			RecordDecline:     mesh.Observed("orders.record_decline", o, mesh.CommandFunc[RecordDecline](h.recordDecline)),
			RecordRefund:      mesh.Observed("orders.record_refund", o, mesh.CommandFunc[RecordRefund](h.recordRefund)),
			Expire:            mesh.Observed("orders.expire", o, mesh.CommandFunc[ExpireOrder](h.expire)),
		},
		Queries: Queries{
			Get:      mesh.ObservedQuery("orders.get", o, mesh.QueryFunc[GetOrder, View](h.get)),
			List:     mesh.ObservedQuery("orders.list", o, mesh.QueryFunc[ListOrders, Page](h.list)),
			Timeline: mesh.ObservedQuery("orders.timeline", o, mesh.QueryFunc[GetTimeline, []Entry](h.timeline)),
			Watch:    mesh.ObservedQuery("orders.watch", o, mesh.QueryFunc[WatchOrders, <-chan View](h.watch)),
		},
	}
}

type handlers struct{ Deps }

// order reads, for a decision, the order's state and where it stood, and
// the catalog entries of the products given.
func (h handlers) order(orderID string, productIDs ...string) func() (Snapshot, error) {
	return func() (Snapshot, error) { return h.Orders.Read(orderID, productIDs...) }
}

// transition decides one change of an order from its current state.
func (h handlers) transition(ctx context.Context, cause mesh.Cause, orderID string, decide func(domain.Order) ([]events.Event, error)) error {
	return mesh.Decide(ctx, h.Writer, cause.CorrelatedWith(orderID), h.order(orderID), func(s Snapshot) ([]events.Event, error) {
		return decide(s.Order)
	})
}
