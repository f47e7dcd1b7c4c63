package app

import (
	"context"
	"errors"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
)

// Snapshot is what a decision reads, all in one transaction: an order's
// reservation, the shelf of the products involved, and where each of them
// stood in the stream.
type Snapshot struct {
	Reservation domain.Reservation
	Shelf       domain.Shelf
	mesh.Positions
}

// State is the local state inventory decides on.
type State interface {
	// Read takes a snapshot of an order's reservation and of the stock and
	// catalog entries of the given products and of every product the
	// reservation names or holds. An empty orderID reads only products.
	Read(orderID string, productIDs ...string) (Snapshot, error)
}

// Writer stores the events of a decision (mesh.Writer, which decides again
// after a lost race and waits until its projection has applied them).
type Writer interface {
	Write(ctx context.Context, cause mesh.Cause, decide mesh.Decision) (uint64, error)
	// CatchUp waits until the state has applied everything the streams
	// hold now, for a decision that must see all there is (ADR 6).
	CatchUp(ctx context.Context) error
}

// Stock is a product's count as readers see it.
type Stock struct {
	ProductID string
	OnHand    int64
	Reserved  int64
	Available int64
	Version   int64
}

// StockPage is one page of the low-stock list.
type StockPage = paging.Page[Stock]

// ErrNotFound means the product is not in the catalog.
var ErrNotFound = errors.New("no such product")

// ReadModel answers the stock queries.
type ReadModel interface {
	// Get returns a product's stock, or ErrNotFound; a product that exists
	// but never had stock reads as zero.
	Get(ctx context.Context, productID string) (Stock, error)
	// Low lists existing products with fewer than below available, by id.
	Low(below int64, cursor string, limit int) (StockPage, error)
	// Changes sends every product's stock as it changes until ctx ends or
	// the reader falls behind; then the channel closes.
	Changes(ctx context.Context) <-chan Stock
}
