// Package products is the catalog service: products with a unique sku, a
// name, a description and a price, changed only by admins and read by all.
package products

import (
	"context"
	"fmt"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/products/api"
	"github.com/shopmesh/shopmesh/svc/products/app"
	"github.com/shopmesh/shopmesh/svc/products/store"
)

// Name is the service's name.
const Name = events.ProductsService

// Service is the running catalog.
type Service struct{}

// New returns the catalog service, ready to Start.
func New() *Service { return &Service{} }

// Name implements mesh.Service.
func (s *Service) Name() string { return Name }

// Plan implements mesh.Service: the catalog reads only its own stream.
func (s *Service) Plan() mesh.Plan {
	return mesh.Plan{Service: Name, Writes: mesh.StreamSpec(events.ProductsStreamSpec), Bucket: bucket}
}

// bucket holds the catalog's read model.
const bucket = "catalog"

// Start implements mesh.Service.
func (s *Service) Start(ctx context.Context, rt *mesh.Runtime) error {
	st, w, err := mesh.Project(ctx, rt, store.New)
	if err != nil {
		return fmt.Errorf("products: %w", err)
	}
	api.Register(rt.API(httpapi.ServiceDoc{
		Prefix: "/products", Title: "ShopMesh products", Problems: api.Problems,
		Description: "The catalog: products with sku, name, description and price. Writes need the admin token.",
	}), app.New(st, st, w, rt.Observer()), rt.Observer().Log)
	return nil
}
