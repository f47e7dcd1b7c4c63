package app

import (
	"context"

	"github.com/shopmesh/shopmesh/svc/orders/store"
)

// GetOrder reads one order.
type GetOrder struct{ ID string }

// ListOrders reads a page of orders, newest first.
type ListOrders struct {
	Filter store.Filter
	Cursor string
	Limit  int
}

// GetTimeline reads every event that concerns an order.
type GetTimeline struct{ ID string }

func (h handlers) get(ctx context.Context, q GetOrder) (store.View, error) {
	return h.Store.Get(ctx, q.ID)
}

func (h handlers) list(_ context.Context, q ListOrders) (store.Page, error) {
	return h.Store.List(q.Filter, q.Cursor, q.Limit)
}

func (h handlers) timeline(ctx context.Context, q GetTimeline) ([]store.Entry, error) {
	o, err := h.Store.Get(ctx, q.ID)
	if err != nil {
		return nil, err
	}
	return h.Timeline.For(ctx, o)
}
