package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
)

// The ports below are what the use cases need from infrastructure. The app
// declares them, small, and owns the types they return; svc/orders/store
// implements them over bbolt, KV and JetStream, and app_test.go over maps.

// OrderReader reads, for a decision, the state of one order in one
// transaction.
type OrderReader interface {
	// Read takes a snapshot of the order and of the catalog entries of
	// the products given.
	Read(orderID string, productIDs ...string) (Snapshot, error)
}

// Snapshot is what a decision reads in one transaction: the order, the
// catalog entries it asked for, and where the order stood in its stream
// (mesh.Positions), which the events decided from it must still find.
type Snapshot struct {
	Order   domain.Order
	Catalog map[string]domain.CatalogEntry
	mesh.Positions
}

// Writer stores the events of a decision (mesh.Writer, which decides again
// after a lost race and waits until its projection has applied them).
type Writer interface {
	Write(ctx context.Context, cause mesh.Cause, decide mesh.Decision) (uint64, error)
}

// ReadModel is the orders as readers see them.
type ReadModel interface {
	// Get returns one order, or domain.ErrNotFound.
	Get(ctx context.Context, id string) (View, error)
	// List returns a page of the orders f keeps, newest first, below the
	// cursor of an earlier page (paging.ErrBadCursor if it is not one).
	List(f Filter, cursor string, limit int) (Page, error)
	// Changes sends every order keep accepts as it changes, until ctx ends
	// or the reader falls behind; then the channel closes.
	Changes(ctx context.Context, keep func(View) bool) <-chan View
}

// Timers schedules an order's payment deadline, which fires DeadlineEvents.
type Timers interface {
	// Schedule arranges for the order's deadline to fire at at; the same
	// order and time scheduled again is one timer.
	Schedule(ctx context.Context, orderID string, at time.Time) error
}

// Timeline reads every event of every service that concerns an order.
type Timeline interface {
	For(ctx context.Context, orderID string) ([]Entry, error)
}

// Admission refuses new orders while those open could not end in time
// (mesh.Admission).
type Admission interface {
	// Admit returns a *mesh.Busy when a new order should wait.
	Admit() error
}

// View is an order as readers see it: no payment token, no request hash.
type View struct {
	ID         string             `json:"id"`
	CustomerID string             `json:"customerId"`
	Items      []events.OrderItem `json:"items"`
	Total      events.Money       `json:"total"`
	Status     string             `json:"status"`
	Reason     string             `json:"reason,omitempty"`
	PaymentID  string             `json:"paymentId,omitempty"`
	ExpiresAt  time.Time          `json:"expiresAt"`
	CreatedAt  time.Time          `json:"createdAt"`
	UpdatedAt  time.Time          `json:"updatedAt"`
	Version    int64              `json:"version"`
}

// ToView is what readers see of an order.
func ToView(o domain.Order) View {
	return View{
		ID: o.ID, CustomerID: o.CustomerID, Items: o.Items, Total: o.Total, Status: o.Status, Reason: o.Reason,
		PaymentID: o.PaymentID, ExpiresAt: o.ExpiresAt, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Version: o.Version,
	}
}

// Filter narrows an order list.
type Filter struct {
	CustomerID string
	Status     string
}

// Keeps reports whether the filter lets the order through.
func (f Filter) Keeps(o domain.Order) bool {
	return (f.CustomerID == "" || f.CustomerID == o.CustomerID) && (f.Status == "" || f.Status == o.Status)
}

// Page is one page of orders.
type Page = paging.Page[View]

// Entry is one event of the timeline of an order.
type Entry struct {
	Time     time.Time
	Service  string
	Type     string
	Subject  string
	Stream   string
	Sequence uint64
	Data     json.RawMessage
	// ID, CausationID and TraceID come from the event's headers: which
	// event caused it, and the trace it belongs to.
	ID          string
	CausationID string
	TraceID     string
}
