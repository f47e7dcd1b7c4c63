package app

import (
	"context"
)

// GetProduct reads one product.
type GetProduct struct{ ID string }

// ListProducts reads a page of the catalog, optionally searching sku and name.
type ListProducts struct {
	Query  string
	Cursor string
	Limit  int
}

func (h handlers) get(ctx context.Context, q GetProduct) (Product, error) {
	return h.reads.Get(ctx, q.ID)
}

func (h handlers) list(_ context.Context, q ListProducts) (ProductPage, error) {
	return h.reads.List(q.Query, q.Cursor, q.Limit)
}
