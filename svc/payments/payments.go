// Package payments is the payments service: it charges orders that await
// payment against a simulated gateway and refunds those that end unshipped.
package payments

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/payments/api"
	"github.com/shopmesh/shopmesh/svc/payments/app"
	"github.com/shopmesh/shopmesh/svc/payments/gateway"
	"github.com/shopmesh/shopmesh/svc/payments/store"
)

// Name is the service's name.
const Name = events.PaymentsService

// Service is the running payments service.
type Service struct {
	mesh.Parts
	gateway *gateway.Gateway
}

// New returns the payments service charging through g.
func New(g *gateway.Gateway) *Service { return &Service{gateway: g} }

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
		Bucket: bucket, Durables: []mesh.Durable{onOrders},
	}
}

// Start implements mesh.Service.
func (s *Service) Start(ctx context.Context, n *mesh.Node) error {
	views, err := s.Open(ctx, n, Name, bucket)
	if err != nil {
		return err
	}
	st, err := store.New(s.DB, views)
	if err != nil {
		return err
	}
	if err := s.Project(ctx, n, Name, []string{events.PaymentsStream}, st, views); err != nil {
		return err
	}
	a := app.New(st, mesh.NewWriter(n.Publisher(Name), s.Proj, events.PaymentsStream), s.gateway, n.Observer(Name))
	api.Register(n.HTTP.API(httpapi.ServiceDoc{
		Prefix: "/payments", Title: "ShopMesh payments", Problems: api.Problems,
		Description: "Payments of orders against a simulated gateway; refunds need the admin token.",
	}), a)
	return s.React(ctx, n, Name, mesh.Reaction{Durable: onOrders, Handle: a.OnOrder})
}
