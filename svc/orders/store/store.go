// Package store keeps the orders service's local state: a bbolt file
// projected from the ORDERS stream (orders, a time index) and the PRODUCTS
// stream (the catalog replica that prices orders), the orders KV read
// model, and in a file of its own the timeline's index of every event of
// every service by the order it concerns. It implements the ports the
// orders app declares (app.OrderReader, app.ReadModel, app.Timers,
// app.Timeline), in records of its own (record.go).
package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/orders/app"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketCatalog = []byte("catalog")
	bucketOrders  = []byte("orders")
	bucketByTime  = []byte("orders_by_time")
	// bucketByCustomer indexes orders by customer id, then placement time.
	bucketByCustomer = []byte("orders_by_customer")
	// bucketOpen holds the orders still in their saga, and the count of
	// the orders that ended: the backlog admission control watches.
	bucketOpen  = []byte("orders_open")
	bucketCount = []byte("orders_count")
	keyEnded    = []byte("ended")
)

// schemaVersion changes whenever the buckets or what they hold change; a
// file of another version is rebuilt from the streams at start.
const schemaVersion = 3

// Store reads and projects orders.
type Store struct {
	db    *bolt.DB
	views *mesh.Views
}

// New wraps the service's bbolt file and its order views.
func New(db *bolt.DB, views *mesh.Views) (*Store, error) {
	if err := mesh.PrepareState(db, schemaVersion, bucketCatalog, bucketOrders, bucketByTime, bucketByCustomer, bucketOpen, bucketCount); err != nil {
		return nil, fmt.Errorf("orders store: %w", err)
	}
	return &Store{db: db, views: views}, nil
}

// Apply implements mesh.Projector.
func (s *Store) Apply(tx *bolt.Tx, e mesh.Envelope) ([]mesh.View, error) {
	ev, err := events.Decode(e.Type, e.Data)
	if err != nil || ev == nil {
		return nil, err
	}
	id := events.IDOf(e.Subject)
	if e.Stream == events.ProductsStream {
		return nil, applyProduct(tx, id, ev)
	}
	return applyOrder(tx, id, ev, e)
}

func applyProduct(tx *bolt.Tx, id string, ev events.Event) error {
	switch ev := ev.(type) {
	case events.ProductCreated:
		return putCatalog(tx, id, ev.ProductFields)
	case events.ProductUpdated:
		return putCatalog(tx, id, ev.ProductFields)
	case events.ProductDeleted:
		return mesh.PutJSON(tx.Bucket(bucketCatalog), id, catalogRecord{Deleted: true})
	}
	return nil
}

func putCatalog(tx *bolt.Tx, id string, f events.ProductFields) error {
	return mesh.PutJSON(tx.Bucket(bucketCatalog), id, catalogRecord{Name: f.Name, Price: f.Price})
}

func applyOrder(tx *bolt.Tx, id string, ev events.Event, e mesh.Envelope) ([]mesh.View, error) {
	b := tx.Bucket(bucketOrders)
	o, err := getOrder(b, id)
	if err != nil {
		return nil, err
	}
	wasOpen := o.Exists() && !o.Terminal()
	o = domain.Evolve(o, ev, e.Time)
	if err := mesh.PutJSON(b, id, toRecord(o)); err != nil {
		return nil, err
	}
	if err := countOpen(tx, id, wasOpen, o.Exists() && !o.Terminal()); err != nil {
		return nil, err
	}
	if _, placed := ev.(events.OrderPlaced); placed {
		if err := index(tx, o); err != nil {
			return nil, err
		}
	}
	return []mesh.View{{Key: id, Value: app.ToView(o)}}, nil
}

// countOpen keeps the open orders and the count of ended ones.
func countOpen(tx *bolt.Tx, id string, wasOpen, isOpen bool) error {
	switch {
	case isOpen && !wasOpen:
		return tx.Bucket(bucketOpen).Put([]byte(id), nil)
	case wasOpen && !isOpen:
		if err := tx.Bucket(bucketOpen).Delete([]byte(id)); err != nil {
			return err
		}
		counts := tx.Bucket(bucketCount)
		return counts.Put(keyEnded, binary.BigEndian.AppendUint64(nil, ended(counts)+1))
	}
	return nil
}

func ended(counts *bolt.Bucket) uint64 {
	if v := counts.Get(keyEnded); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Backlog reports how many orders are in their saga, and how many ever
// ended: what admission control (mesh.Admission) watches.
func (s *Store) Backlog() (open int, endedTotal uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		open = tx.Bucket(bucketOpen).Stats().KeyN
		endedTotal = ended(tx.Bucket(bucketCount))
		return nil
	})
	return open, endedTotal, err
}

func index(tx *bolt.Tx, o domain.Order) error {
	tk := timeKey(o.CreatedAt, o.ID)
	if err := tx.Bucket(bucketByTime).Put(tk, nil); err != nil {
		return err
	}
	return tx.Bucket(bucketByCustomer).Put(append(customerPrefix(o.CustomerID), tk...), nil)
}

func customerPrefix(customerID string) []byte { return append([]byte(customerID), 0) }

// timeKey orders the index by placement time, then id.
func timeKey(t time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())), id...)
}

// Read implements app.OrderReader.
func (s *Store) Read(orderID string, productIDs ...string) (app.Snapshot, error) {
	snap := app.Snapshot{Catalog: map[string]domain.CatalogEntry{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if snap.Order, err = getOrder(tx.Bucket(bucketOrders), orderID); err != nil {
			return err
		}
		for _, id := range productIDs {
			var c catalogRecord
			found, err := mesh.GetJSON(tx.Bucket(bucketCatalog), id, &c)
			if err != nil {
				return err
			}
			if found {
				snap.Catalog[id] = c.entry()
			}
		}
		snap.Positions = mesh.ReadPositions(tx, events.OrderEntity(orderID))
		return nil
	})
	return snap, err
}

// Get implements app.ReadModel: it reads the KV read model, and the local
// state for an order whose view the bucket has let go (a day after it last
// changed, ADR 21): the local state holds every order.
func (s *Store) Get(ctx context.Context, id string) (app.View, error) {
	return mesh.LookupOr(ctx, s.views, id, domain.ErrNotFound, func() (app.View, bool, error) {
		snap, err := s.Read(id)
		return app.ToView(snap.Order), snap.Order.Exists(), err
	})
}

// Changes implements app.ReadModel, from now until ctx ends or the reader
// falls too far behind (mesh.Views.Changes).
func (s *Store) Changes(ctx context.Context, keep func(app.View) bool) <-chan app.View {
	return mesh.ChangesOf(ctx, s.views, keep)
}

// List implements app.ReadModel. A customer filter reads that customer's
// index; other filters read the time index.
func (s *Store) List(f app.Filter, cursor string, limit int) (app.Page, error) {
	before, err := paging.CursorKey(cursor)
	if err != nil {
		return app.Page{}, err
	}
	bucket, prefix := bucketByTime, []byte(nil)
	if f.CustomerID != "" {
		bucket, prefix = bucketByCustomer, customerPrefix(f.CustomerID)
	}
	page := app.Page{Items: []app.View{}}
	err = s.db.View(func(tx *bolt.Tx) error {
		orders := tx.Bucket(bucketOrders)
		var bad error
		newestFirst(tx.Bucket(bucket).Cursor(), prefix, before, func(tk []byte) bool {
			o, ok, err := findOrder(orders, string(tk[8:]))
			if err != nil {
				bad = err
				return false
			}
			if !ok || !f.Keeps(o) {
				return true
			}
			if len(page.Items) == limit {
				page.NextCursor = paging.Cursor(timeKey(page.Items[limit-1].CreatedAt, page.Items[limit-1].ID))
				return false
			}
			page.Items = append(page.Items, app.ToView(o))
			return true
		})
		return bad
	})
	return page, err
}

// newestFirst walks the time keys of an index under prefix from the newest
// down, starting below the time key before when it is given, until visit
// returns false.
func newestFirst(c *bolt.Cursor, prefix, before []byte, visit func(timeKey []byte) bool) {
	start := append(append([]byte(nil), prefix...), 0xff)
	if len(before) > 0 {
		start = append(append([]byte(nil), prefix...), before...)
	}
	k, _ := c.Seek(start)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if !visit(k[len(prefix):]) {
			return
		}
	}
}
