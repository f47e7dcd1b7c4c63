package app

import (
	"context"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/products/domain"
)

// Snapshot is what a catalog write decides on, read in one transaction:
// the product, who holds the draft's sku, and the PRODUCTS stream's
// position they reflect.
type Snapshot struct {
	Product  domain.Product
	Catalog  domain.Catalog
	Position uint64
}

// Expect implements mesh.Snapshot: every catalog write expects the whole
// PRODUCTS stream unchanged since the snapshot, because sku uniqueness
// spans all products: any concurrent catalog write makes a writer decide
// again (see docs/adr).
func (s Snapshot) Expect(string) mesh.Expect {
	return mesh.Expect{Filter: events.ProductSubjects, Seq: s.Position}
}

// Writer stores the events of a decision (mesh.Writer, which decides again
// after a lost race and waits until its projection has applied them).
type Writer interface {
	Write(ctx context.Context, cause mesh.Cause, decide mesh.Decision) (uint64, error)
}

// State is the local state the catalog decides on.
type State interface {
	// ForWrite reads product id, the owner of sku and the stream position
	// they reflect, all at one point in time.
	ForWrite(id, sku string) (Snapshot, error)
}

// Product is a catalog entry as readers see it.
type Product struct {
	ID          string
	SKU         string
	Name        string
	Description string
	Price       events.Money
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

// ProductPage is one page of a product list.
type ProductPage = paging.Page[Product]

// ReadModel answers the catalog queries.
type ReadModel interface {
	// Get returns a product, or domain.ErrNotFound.
	Get(ctx context.Context, id string) (Product, error)
	// List returns up to limit products after cursor, oldest first, whose
	// sku or name contains q (any case).
	List(q, cursor string, limit int) (ProductPage, error)
}
