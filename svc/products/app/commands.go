package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/products/domain"
)

// CreateProduct adds a product under a new id.
type CreateProduct struct {
	RequestID string
	ID        string
	Draft     domain.Draft
}

// UpdateProduct replaces a product's fields. IfVersion, when not zero, is
// the version the writer last saw.
type UpdateProduct struct {
	RequestID string
	ID        string
	Draft     domain.Draft
	IfVersion int64
}

// DeleteProduct removes a product from the catalog.
type DeleteProduct struct {
	RequestID string
	ID        string
	IfVersion int64
}

func (h handlers) create(ctx context.Context, c CreateProduct) error {
	cause := mesh.Cause{ID: c.RequestID, CorrelationID: c.ID}
	return mesh.Decide(ctx, h.writer, cause, h.product(c.ID, c.Draft.SKU), func(s Snapshot) ([]events.ProductCreated, error) {
		return single(domain.Create(c.ID, s.Product, c.Draft, s.Catalog))
	})
}

func (h handlers) update(ctx context.Context, c UpdateProduct) error {
	cause := mesh.Cause{ID: c.RequestID, CorrelationID: c.ID}
	return mesh.Decide(ctx, h.writer, cause, h.product(c.ID, c.Draft.SKU), func(s Snapshot) ([]events.ProductUpdated, error) {
		return single(domain.Update(s.Product, c.Draft, s.Catalog, c.IfVersion))
	})
}

func (h handlers) delete(ctx context.Context, c DeleteProduct) error {
	cause := mesh.Cause{ID: c.RequestID, CorrelationID: c.ID}
	return mesh.Decide(ctx, h.writer, cause, h.product(c.ID, ""), func(s Snapshot) ([]events.ProductDeleted, error) {
		return single(domain.Delete(s.Product, c.IfVersion))
	})
}
