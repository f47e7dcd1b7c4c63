// Package payments is the payments service: it charges orders that await
// payment against a simulated gateway and refunds those that end unshipped.
package payments

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/svc/payments/api"
	"github.com/shopmesh/shopmesh/svc/payments/app"
	"github.com/shopmesh/shopmesh/svc/payments/store"
)

// Name is the service's name.
const Name = events.PaymentsService

// Service is the running payments service.
type Service struct {
	gateway app.Gateway
}

// New returns the payments service charging through g: the simulated
// gateway of package gateway, or a test's own.
func New(g app.Gateway) *Service { return &Service{gateway: g} }

// Name implements mesh.Service.
func (s *Service) Name() string { return Name }

// onOrders is the reaction that charges placed orders and refunds ended ones.
var onOrders = mesh.Durable{Name: "payments-on-orders", Stream: events.OrdersStream, Subjects: app.OrderEvents}

// bucket holds the payments' read model.
const bucket = "payments"

// Plan implements mesh.Service.
func (s *Service) Plan() mesh.Plan {
	return mesh.Plan{
		Service: Name, Writes: mesh.StreamSpec(events.PaymentsStreamSpec),
		Reads:  []mesh.StreamSpec{mesh.StreamSpec(events.OrdersStreamSpec)},
		Bucket: bucket, BucketTTL: mesh.RecentViews, Durables: []mesh.Durable{onOrders},
	}
}

// Start implements mesh.Service.
func (s *Service) Start(ctx context.Context, rt *mesh.Runtime) error {
	st, w, err := mesh.Project(ctx, rt, store.New)
	if err != nil {
		return err
	}
	a := NewApp(st, w, s.gateway, rt.Observer())
	api.Register(rt.API(httpapi.ServiceDoc{
		Prefix: "/payments", Title: "ShopMesh payments", Problems: api.Problems,
		Description: "Payments of orders against a simulated gateway; refunds need the admin token.",
	}), a, rt.Observer().Log)
	return rt.React(ctx, mesh.Reaction{Durable: onOrders, Handle: a.OnOrder})
}

// NewApp is the payments application as the service runs it, over its
// store and the writer of its events. Its decisions are stored all or none
// (app.Writer): a capture that arrives after its order ended goes with its
// refund.
func NewApp(st *store.Store, w *mesh.Writer, g app.Gateway, o observe.Observer) app.Application {
	return app.New(st, st, w.Atomic(), g, o)
}
