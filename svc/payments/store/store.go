// Package store keeps the payments service's local state: a bbolt file
// projected from the PAYMENTS stream, and the payments KV read model.
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/payments/domain"
	bolt "go.etcd.io/bbolt"
)

var bucketPayments = []byte("payments")

// schemaVersion changes whenever the buckets or what they hold change; a
// file of another version is rebuilt from the streams at start.
const schemaVersion = 2

// Store reads and projects payments.
type Store struct {
	db    *bolt.DB
	views *mesh.Views
}

// New wraps the service's bbolt file and its payment views.
func New(db *bolt.DB, views *mesh.Views) (*Store, error) {
	if err := mesh.PrepareState(db, schemaVersion, bucketPayments); err != nil {
		return nil, fmt.Errorf("payments store: %w", err)
	}
	return &Store{db: db, views: views}, nil
}

// Apply implements mesh.Projector.
func (s *Store) Apply(tx *bolt.Tx, e mesh.Envelope) ([]mesh.View, error) {
	ev, err := events.Decode(e.Type, e.Data)
	if err != nil || ev == nil {
		return nil, err
	}
	orderID := events.IDOf(e.Subject)
	b := tx.Bucket(bucketPayments)
	var p domain.Payment
	mesh.GetJSON(b, orderID, &p)
	p = domain.Evolve(p, ev, e.Time)
	if err := mesh.PutJSON(b, orderID, p); err != nil {
		return nil, err
	}
	return []mesh.View{{Key: p.ID, Value: p}}, nil
}

// Snapshot is an order's payment as a decision sees it, and where it
// stood.
type Snapshot struct {
	Payment domain.Payment
	mesh.Positions
}

// Read takes a snapshot of the payment of an order.
func (s *Store) Read(orderID string) (Snapshot, error) {
	var snap Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		mesh.GetJSON(tx.Bucket(bucketPayments), orderID, &snap.Payment)
		snap.Positions = mesh.ReadPositions(tx, events.PaymentEntity(orderID))
		return nil
	})
	return snap, err
}

// Get returns a payment by id from the read model.
func (s *Store) Get(ctx context.Context, id string) (domain.Payment, error) {
	return mesh.Lookup[domain.Payment](ctx, s.views, id, domain.ErrNotFound)
}

// Page is one page of a payment list.
type Page = paging.Page[domain.Payment]

// Filter narrows a payment list; empty fields match everything.
type Filter struct {
	OrderID string
	Status  string
}

// List returns up to limit payments matching f after cursor, by order id.
func (s *Store) List(f Filter, cursor string, limit int) (Page, error) {
	after, err := paging.CursorKey(cursor)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: []domain.Payment{}}
	if f.OrderID != "" { // an order has one payment: no scan
		snap, err := s.Read(f.OrderID)
		if p := snap.Payment; err == nil && f.matches(p) && len(after) == 0 {
			page.Items = append(page.Items, p)
		}
		return page, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPayments).Cursor()
		for k, v := paging.SeekAfter(c, after); k != nil; k, v = c.Next() {
			var p domain.Payment
			if json.Unmarshal(v, &p) != nil || !f.matches(p) {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = paging.Cursor([]byte(page.Items[limit-1].OrderID))
				return nil
			}
			page.Items = append(page.Items, p)
		}
		return nil
	})
	return page, err
}

func (f Filter) matches(p domain.Payment) bool {
	return p.Exists() && (f.OrderID == "" || p.OrderID == f.OrderID) && (f.Status == "" || p.Status == f.Status)
}

// OrderOf returns the order id a payment id belongs to.
func OrderOf(paymentID string) (string, bool) {
	return strings.CutPrefix(paymentID, "pay_")
}
