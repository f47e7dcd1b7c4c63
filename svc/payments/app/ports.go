package app

import (
	"context"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/payments/domain"
)

// Snapshot is an order's payment as a decision sees it, and where it
// stood in the stream.
type Snapshot struct {
	Payment domain.Payment
	mesh.Positions
}

// Writer stores the events of a decision all or none (mesh.Writer.Atomic):
// a capture that arrives after the order ended is recorded together with
// its refund (ADR 4), or not at all. That decision is rare, and every
// other one is a single event.
type Writer interface {
	Write(ctx context.Context, cause mesh.Cause, decide mesh.Decision) (uint64, error)
}

// State is the local state the payments service decides on.
type State interface {
	// Read takes a snapshot of the payment of an order.
	Read(orderID string) (Snapshot, error)
}

// Payment is an order's payment as readers see it.
type Payment struct {
	ID        string
	OrderID   string
	Status    string
	Amount    events.Money
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// PaymentPage is one page of a payment list.
type PaymentPage = paging.Page[Payment]

// Filter narrows a payment list; empty fields match everything.
type Filter struct {
	OrderID string
	Status  string
}

// ReadModel answers the payment queries.
type ReadModel interface {
	// Get returns a payment by id, or domain.ErrNotFound.
	Get(ctx context.Context, id string) (Payment, error)
	// List returns up to limit payments matching f after cursor, by order id.
	List(f Filter, cursor string, limit int) (PaymentPage, error)
}
