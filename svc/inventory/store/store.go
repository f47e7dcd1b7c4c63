// Package store keeps inventory's local state: a bbolt file projected from
// the INVENTORY stream (stock, reservations) and the PRODUCTS stream (which
// products exist), and the stock KV read model.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketProducts     = []byte("products")
	bucketStock        = []byte("stock")
	bucketReservations = []byte("reservations")
)

// View is a product's stock as readers see it.
type View struct {
	ProductID string `json:"productId"`
	OnHand    int64  `json:"onHand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	Version   int64  `json:"version"`
}

func toView(productID string, s domain.Stock) View {
	return View{ProductID: productID, OnHand: s.OnHand, Reserved: s.Reserved, Available: s.Available(), Version: s.Version}
}

// schemaVersion changes whenever the buckets or what they hold change; a
// file of another version is rebuilt from the streams at start.
const schemaVersion = 3

// Store reads and projects inventory.
type Store struct {
	db    *bolt.DB
	views *mesh.Views
}

// New wraps the service's bbolt file and its stock views.
func New(db *bolt.DB, views *mesh.Views) (*Store, error) {
	if err := mesh.PrepareState(db, schemaVersion, bucketProducts, bucketStock, bucketReservations); err != nil {
		return nil, fmt.Errorf("inventory store: %w", err)
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
	switch ev.(type) {
	case events.ProductCreated, events.ProductUpdated:
		return nil, mesh.PutJSON(tx.Bucket(bucketProducts), id, domain.Product{Known: true})
	case events.ProductDeleted:
		return nil, mesh.PutJSON(tx.Bucket(bucketProducts), id, domain.Product{Known: true, Deleted: true})
	case events.StockAdjusted:
		return applyStock(tx, id, ev)
	case events.StockReserved, events.StockReleased, events.StockCommitted:
		// A hold belongs to the product and to the order: its reservation
		// learns what it holds.
		r := getReservation(tx, orderOf(ev))
		if err := putReservation(tx, domain.EvolveReservation(r, ev)); err != nil {
			return nil, err
		}
		return applyStock(tx, id, ev)
	}
	return nil, putReservation(tx, domain.EvolveReservation(getReservation(tx, id), ev))
}

func orderOf(ev events.Event) string {
	switch ev := ev.(type) {
	case events.StockReserved:
		return ev.OrderID
	case events.StockReleased:
		return ev.OrderID
	case events.StockCommitted:
		return ev.OrderID
	}
	return ""
}

func getReservation(tx *bolt.Tx, orderID string) domain.Reservation {
	r := domain.Reservation{OrderID: orderID}
	mesh.GetJSON(tx.Bucket(bucketReservations), orderID, &r)
	return r
}

func putReservation(tx *bolt.Tx, r domain.Reservation) error {
	return mesh.PutJSON(tx.Bucket(bucketReservations), r.OrderID, r)
}

func applyStock(tx *bolt.Tx, id string, ev events.Event) ([]mesh.View, error) {
	b := tx.Bucket(bucketStock)
	st := domain.Stock{ProductID: id}
	mesh.GetJSON(b, id, &st)
	st = domain.EvolveStock(st, ev)
	if err := mesh.PutJSON(b, id, st); err != nil {
		return nil, err
	}
	return []mesh.View{{Key: id, Value: toView(id, st)}}, nil
}

// Snapshot is what a decision reads, all in one transaction, with where
// the reservation and each product stood.
type Snapshot struct {
	Reservation domain.Reservation
	Shelf       domain.Shelf
	mesh.Positions
}

// Read takes a snapshot of an order's reservation and the stock and catalog
// entries of the given products, and of every product the reservation
// names or holds: one transaction, so a decision sees them all at the same
// instant.
func (s *Store) Read(orderID string, productIDs ...string) (Snapshot, error) {
	snap := Snapshot{
		Reservation: domain.Reservation{OrderID: orderID},
		Shelf:       domain.Shelf{Stock: map[string]domain.Stock{}, Products: map[string]domain.Product{}},
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		if orderID != "" {
			snap.Reservation = getReservation(tx, orderID)
		}
		for _, id := range productIDs {
			readShelf(tx, snap.Shelf, id)
		}
		for _, l := range snap.Reservation.Lines {
			readShelf(tx, snap.Shelf, l.ProductID)
		}
		for id := range snap.Reservation.Holds {
			readShelf(tx, snap.Shelf, id)
		}
		entities := []string{events.ReservationEntity(orderID)}
		for id := range snap.Shelf.Stock {
			entities = append(entities, events.StockEntity(id))
		}
		snap.Positions = mesh.ReadPositions(tx, entities...)
		return nil
	})
	return snap, err
}

func readShelf(tx *bolt.Tx, shelf domain.Shelf, id string) {
	if _, done := shelf.Stock[id]; done {
		return
	}
	st := domain.Stock{ProductID: id}
	mesh.GetJSON(tx.Bucket(bucketStock), id, &st)
	var p domain.Product
	mesh.GetJSON(tx.Bucket(bucketProducts), id, &p)
	shelf.Stock[id], shelf.Products[id] = st, p
}

// ErrNotFound means the product is not in the catalog.
var ErrNotFound = errors.New("no such product")

// Get returns a product's stock from the read model. A product that exists
// but never had stock reads as zero.
func (s *Store) Get(ctx context.Context, productID string) (View, error) {
	var v View
	snap, err := s.Read("", productID)
	if err != nil {
		return v, err
	}
	if !snap.Shelf.Products[productID].Exists() {
		return v, ErrNotFound
	}
	found, err := s.views.Get(ctx, productID, &v)
	if err != nil || found {
		return v, err
	}
	return View{ProductID: productID}, nil
}

// Changes sends every product's stock as it changes, from now until ctx
// ends or the reader falls too far behind (mesh.Views.Changes); then the
// channel closes.
func (s *Store) Changes(ctx context.Context) <-chan View {
	return mesh.ChangesOf[View](ctx, s.views, nil)
}

// Page is one page of the low-stock list.
type Page = paging.Page[View]

// Low lists existing products whose available count is below n, by id.
func (s *Store) Low(below int64, cursor string, limit int) (Page, error) {
	after, err := paging.CursorKey(cursor)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: []View{}}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketProducts).Cursor()
		for k, v := paging.SeekAfter(c, after); k != nil; k, v = c.Next() {
			view, ok := lowStock(tx, k, v, below)
			if !ok {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = paging.Cursor([]byte(page.Items[limit-1].ProductID))
				return nil
			}
			page.Items = append(page.Items, view)
		}
		return nil
	})
	return page, err
}

func lowStock(tx *bolt.Tx, id, product []byte, below int64) (View, bool) {
	var p domain.Product
	if json.Unmarshal(product, &p) != nil || !p.Exists() {
		return View{}, false
	}
	st := domain.Stock{ProductID: string(id)}
	mesh.GetJSON(tx.Bucket(bucketStock), string(id), &st)
	return toView(string(id), st), st.Available() < below
}
