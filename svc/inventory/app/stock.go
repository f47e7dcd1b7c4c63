package app

import (
	"context"
	"errors"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
)

// SetStock sets a product's count on hand.
type SetStock struct {
	RequestID string
	ProductID string
	OnHand    int64
}

// AdjustStock restocks (positive delta) or writes off (negative delta).
type AdjustStock struct {
	RequestID string
	ProductID string
	Delta     int64
	Reason    string
}

// GetStock reads one product's stock.
type GetStock struct{ ProductID string }

// LowStock lists products with fewer than Below units available.
type LowStock struct {
	Below  int64
	Cursor string
	Limit  int
}

func (h handlers) set(ctx context.Context, c SetStock) error {
	return h.changeStock(ctx, c.RequestID, c.ProductID, func(s domain.Stock, p domain.Product) (events.StockAdjusted, error) {
		return domain.SetOnHand(s, p, c.OnHand)
	})
}

func (h handlers) adjust(ctx context.Context, c AdjustStock) error {
	return h.changeStock(ctx, c.RequestID, c.ProductID, func(s domain.Stock, p domain.Product) (events.StockAdjusted, error) {
		return domain.Adjust(s, p, c.Delta, c.Reason)
	})
}

func (h handlers) changeStock(ctx context.Context, requestID, productID string, decide func(domain.Stock, domain.Product) (events.StockAdjusted, error)) error {
	cause := mesh.Cause{ID: requestID, CorrelationID: productID}
	return h.write(ctx, cause, "", []string{productID}, func(s Snapshot) ([]events.Event, error) {
		e, err := decide(s.Shelf.Stock[productID], s.Shelf.Products[productID])
		return []events.Event{e}, err
	})
}

// WatchStock follows the stock of every product as it changes.
type WatchStock struct{}

// watch returns every stock change until ctx ends or the reader falls
// behind; then the channel closes.
func (h handlers) watch(ctx context.Context, _ WatchStock) (<-chan Stock, error) {
	return h.reads.Changes(ctx), nil
}

func (h handlers) get(ctx context.Context, q GetStock) (Stock, error) {
	v, err := h.reads.Get(ctx, q.ProductID)
	if !errors.Is(err, ErrNotFound) {
		return v, err
	}
	// The product may have been created a moment ago.
	if err := h.writer.CatchUp(ctx); err != nil {
		return v, err
	}
	return h.reads.Get(ctx, q.ProductID)
}

func (h handlers) low(_ context.Context, q LowStock) (StockPage, error) {
	return h.reads.Low(q.Below, q.Cursor, q.Limit)
}
