// Package store keeps the payments service's local state: a bbolt file
// projected from the PAYMENTS stream, and the payments KV read model. It
// implements the ports app declares (app.State, app.ReadModel).
package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/payments/app"
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

var (
	_ app.State     = (*Store)(nil)
	_ app.ReadModel = (*Store)(nil)
)

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
	p, err := getPayment(tx, orderID)
	if err != nil {
		return nil, err
	}
	p = domain.Evolve(p, ev, e.Time)
	if err := mesh.PutJSON(tx.Bucket(bucketPayments), orderID, toRecord(p)); err != nil {
		return nil, err
	}
	return []mesh.View{{Key: p.ID, Value: toRecord(p)}}, nil
}

func getPayment(tx *bolt.Tx, orderID string) (domain.Payment, error) {
	var r paymentRecord
	_, err := mesh.GetJSON(tx.Bucket(bucketPayments), orderID, &r)
	return r.domain(), err
}

// Read implements app.State.
func (s *Store) Read(orderID string) (app.Snapshot, error) {
	var snap app.Snapshot
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		if snap.Payment, err = getPayment(tx, orderID); err != nil {
			return err
		}
		snap.Positions = mesh.ReadPositions(tx, events.PaymentEntity(orderID))
		return nil
	})
	return snap, err
}

// Get implements app.ReadModel, from the KV read model, and from the local
// state for a payment whose view the bucket has let go (a day after it
// last changed, ADR 21): the local state holds every payment.
func (s *Store) Get(ctx context.Context, id string) (app.Payment, error) {
	r, err := mesh.LookupOr(ctx, s.views, id, domain.ErrNotFound, func() (paymentRecord, bool, error) {
		orderID, ok := domain.OrderOf(id) // the local state keeps payments by order
		if !ok {
			return paymentRecord{}, false, nil
		}
		snap, err := s.Read(orderID)
		return toRecord(snap.Payment), snap.Payment.ID == id, err
	})
	return r.app(), err
}

// List implements app.ReadModel.
func (s *Store) List(f app.Filter, cursor string, limit int) (app.PaymentPage, error) {
	after, err := paging.CursorKey(cursor)
	if err != nil {
		return app.PaymentPage{}, err
	}
	page := app.PaymentPage{Items: []app.Payment{}}
	if f.OrderID != "" { // an order has one payment: no scan
		snap, err := s.Read(f.OrderID)
		if p := snap.Payment; err == nil && matches(f, p) && len(after) == 0 {
			page.Items = append(page.Items, toRecord(p).app())
		}
		return page, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPayments).Cursor()
		for k, v := paging.SeekAfter(c, after); k != nil; k, v = c.Next() {
			var r paymentRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode payment %s: %w", k, err)
			}
			if !matches(f, r.domain()) {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = paging.Cursor([]byte(page.Items[limit-1].OrderID))
				return nil
			}
			page.Items = append(page.Items, r.app())
		}
		return nil
	})
	return page, err
}

func matches(f app.Filter, p domain.Payment) bool {
	return p.Exists() && (f.OrderID == "" || p.OrderID == f.OrderID) && (f.Status == "" || p.Status == f.Status)
}
