package app

import (
	"context"

	"github.com/shopmesh/shopmesh/svc/products/domain"
	"github.com/shopmesh/shopmesh/svc/products/store"
)

// GetProduct reads one product.
type GetProduct struct{ ID string }

// ListProducts reads a page of the catalog, optionally searching sku and name.
type ListProducts struct {
	Query  string
	Cursor string
	Limit  int
}

func (h handlers) get(ctx context.Context, q GetProduct) (domain.Product, error) {
	return h.store.Get(ctx, q.ID)
}

func (h handlers) list(_ context.Context, q ListProducts) (store.Page, error) {
	return h.store.List(q.Query, q.Cursor, q.Limit)
}
