// Package inventory is the stock service: counts per product, and
// reservations that take stock for an order's every line or for none.
package inventory

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/inventory/api"
	"github.com/shopmesh/shopmesh/svc/inventory/app"
	"github.com/shopmesh/shopmesh/svc/inventory/store"
)

// Name is the service's name.
const Name = events.InventoryService

// Service is the running inventory.
type Service struct{}

// New returns the inventory service, ready to Start.
func New() *Service { return &Service{} }

// Name implements mesh.Service.
func (s *Service) Name() string { return Name }

// onOrders is the reaction that reserves, commits and releases stock.
var onOrders = mesh.Durable{Name: "inventory-on-orders", Stream: events.OrdersStream, Subjects: app.OrderEvents}

// bucket holds the stock read model.
const bucket = "stock"

// Plan implements mesh.Service: inventory projects the catalog and
// reacts to orders.
func (s *Service) Plan() mesh.Plan {
	return mesh.Plan{
		Service: Name, Writes: mesh.StreamSpec(events.InventoryStreamSpec),
		Reads:  []mesh.StreamSpec{mesh.StreamSpec(events.ProductsStreamSpec), mesh.StreamSpec(events.OrdersStreamSpec)},
		Bucket: bucket, Durables: []mesh.Durable{onOrders},
	}
}

// Start implements mesh.Service.
func (s *Service) Start(ctx context.Context, rt *mesh.Runtime) error {
	st, w, err := mesh.Project(ctx, rt, store.New, events.ProductsStream)
	if err != nil {
		return err
	}
	a := app.New(st, st, w, rt.Observer())
	api.Register(rt.API(httpapi.ServiceDoc{
		Prefix: "/inventory", Title: "ShopMesh inventory", Problems: api.Problems,
		Description: "Stock per product, and the reservations that hold it for orders. Changes need the admin token.",
	}), a, rt.Followers(), rt.Observer().Log)
	return rt.React(ctx, mesh.Reaction{Durable: onOrders, Handle: a.OnOrder})
}
