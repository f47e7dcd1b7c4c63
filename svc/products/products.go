// Package products is the catalog service: products with a unique sku, a
// name, a description and a price, changed only by admins and read by all.
package products

import (
	"context"
	"fmt"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/products/api"
	"github.com/shopmesh/shopmesh/svc/products/app"
	"github.com/shopmesh/shopmesh/svc/products/store"
	bolt "go.etcd.io/bbolt"
)

// Name is the service's name.
const Name = events.ProductsService

// Service is the running catalog.
type Service struct {
	db   *bolt.DB
	proj *mesh.Projection
}

// New returns the catalog service, ready to Start.
func New() *Service { return &Service{} }

// Name implements mesh.Service.
func (s *Service) Name() string { return Name }

// Start implements mesh.Service.
func (s *Service) Start(ctx context.Context, n *mesh.Node) error {
	err := mesh.ProvisionStream(ctx, n.JS, n.Storage, mesh.StreamSpec{
		Name: events.ProductsStream, Subjects: []string{"products.>"},
	})
	if err != nil {
		return err
	}
	views, err := n.Bucket(ctx, "catalog")
	if err != nil {
		return err
	}
	if s.db, err = n.OpenDB(Name); err != nil {
		return err
	}
	st, err := store.New(s.db, views)
	if err != nil {
		return err
	}
	s.proj, err = n.Project(ctx, Name, s.db, []string{events.ProductsStream}, st, views)
	if err != nil {
		return fmt.Errorf("products: %w", err)
	}
	w := mesh.NewWriter(n.Publisher(Name), s.proj, events.ProductsStream)
	a := app.New(st, w, n.Logger(Name), n.Metrics)
	api.Register(n.HTTP.API(mesh.ServiceDoc{
		Prefix: "/products", Title: "ShopMesh products",
		Description: "The catalog: products with sku, name, description and price. Writes need the admin token.",
	}), a)
	return nil
}

// Stop implements mesh.Service.
func (s *Service) Stop() {
	if s.proj != nil {
		s.proj.Stop()
	}
	if s.db != nil {
		_ = s.db.Close()
	}
}
