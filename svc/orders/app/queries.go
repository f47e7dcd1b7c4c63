package app

import "context"

// GetOrder reads one order.
type GetOrder struct{ ID string }

// ListOrders reads a page of orders, newest first.
type ListOrders struct {
	Filter Filter
	Cursor string
	Limit  int
}

// GetTimeline reads every event that concerns an order.
type GetTimeline struct{ ID string }

// WatchOrders follows orders as they change, all of them or those of one
// order or one customer.
type WatchOrders struct {
	ID         string
	CustomerID string
}

func (h handlers) get(ctx context.Context, q GetOrder) (View, error) {
	return h.Views.Get(ctx, q.ID)
}

func (h handlers) list(_ context.Context, q ListOrders) (Page, error) {
	return h.Views.List(q.Filter, q.Cursor, q.Limit)
}

// Keeps reports whether v is an order q follows.
func (q WatchOrders) Keeps(v View) bool {
	return (q.ID == "" || v.ID == q.ID) && (q.CustomerID == "" || v.CustomerID == q.CustomerID)
}

// watch returns the changes that match q until ctx ends or the reader falls
// behind; then the channel closes.
func (h handlers) watch(ctx context.Context, q WatchOrders) (<-chan View, error) {
	return h.Views.Changes(ctx, q.Keeps), nil
}

func (h handlers) timeline(ctx context.Context, q GetTimeline) ([]Entry, error) {
	if _, err := h.Views.Get(ctx, q.ID); err != nil {
		return nil, err
	}
	return h.Timeline.For(ctx, q.ID)
}
