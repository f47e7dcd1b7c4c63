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
type Service struct {
	mesh.Parts
}

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
func (s *Service) Start(ctx context.Context, n *mesh.Node) error {
	views, err := s.Open(ctx, n, Name, bucket)
	if err != nil {
		return err
	}
	st, err := store.New(s.DB, views)
	if err != nil {
		return err
	}
	if err := s.Project(ctx, n, Name, []string{events.ProductsStream}, st, views); err != nil {
		return fmt.Errorf("products: %w", err)
	}
	w := mesh.NewWriter(n.Publisher(Name), s.Proj, events.ProductsStream)
	a := app.New(st, w, n.Observer(Name))
	api.Register(n.HTTP.API(httpapi.ServiceDoc{
		Prefix: "/products", Title: "ShopMesh products", Problems: api.Problems,
		Description: "The catalog: products with sku, name, description and price. Writes need the admin token.",
	}), a)
	return nil
}
