// Package store keeps inventory's local state: a bbolt file projected from
// the INVENTORY stream (stock, reservations) and the PRODUCTS stream (which
// products exist), and the stock KV read model. It implements the ports
// app declares (app.State, app.ReadModel).
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/inventory/app"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketProducts     = []byte("products")
	bucketStock        = []byte("stock")
	bucketReservations = []byte("reservations")
)

// schemaVersion changes whenever the buckets or what they hold change; a
// file of another version is rebuilt from the streams at start.
const schemaVersion = 3

// Store reads and projects inventory.
type Store struct {
	db    *bolt.DB
	views *mesh.Views
}

var (
	_ app.State     = (*Store)(nil)
	_ app.ReadModel = (*Store)(nil)
)

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
		return nil, putProduct(tx, id, domain.Product{Known: true})
	case events.ProductDeleted:
		return nil, putProduct(tx, id, domain.Product{Known: true, Deleted: true})
	case events.StockAdjusted:
		return applyStock(tx, id, ev)
	case events.StockReserved, events.StockReleased, events.StockCommitted:
		// A hold belongs to the product and to the order: its reservation
		// learns what it holds.
		if err := applyReservation(tx, orderOf(ev), ev); err != nil {
			return nil, err
		}
		return applyStock(tx, id, ev)
	}
	return nil, applyReservation(tx, id, ev)
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

func putProduct(tx *bolt.Tx, id string, p domain.Product) error {
	return mesh.PutJSON(tx.Bucket(bucketProducts), id, toProductRecord(p))
}

func getProduct(tx *bolt.Tx, id string) (domain.Product, error) {
	var r productRecord
	_, err := mesh.GetJSON(tx.Bucket(bucketProducts), id, &r)
	return r.domain(), err
}

func applyReservation(tx *bolt.Tx, orderID string, ev events.Event) error {
	r, err := getReservation(tx, orderID)
	if err != nil {
		return err
	}
	r = domain.EvolveReservation(r, ev)
	return mesh.PutJSON(tx.Bucket(bucketReservations), r.OrderID, toReservationRecord(r))
}

func getReservation(tx *bolt.Tx, orderID string) (domain.Reservation, error) {
	r := reservationRecord{OrderID: orderID}
	_, err := mesh.GetJSON(tx.Bucket(bucketReservations), orderID, &r)
	return r.domain(), err
}

func getStock(tx *bolt.Tx, id string) (domain.Stock, error) {
	r := stockRecord{ProductID: id}
	_, err := mesh.GetJSON(tx.Bucket(bucketStock), id, &r)
	return r.domain(), err
}

func applyStock(tx *bolt.Tx, id string, ev events.Event) ([]mesh.View, error) {
	st, err := getStock(tx, id)
	if err != nil {
		return nil, err
	}
	st = domain.EvolveStock(st, ev)
	if err := mesh.PutJSON(tx.Bucket(bucketStock), id, toStockRecord(st)); err != nil {
		return nil, err
	}
	return []mesh.View{{Key: id, Value: toView(id, st)}}, nil
}

// Read implements app.State: one transaction, so a decision sees the
// reservation and every product at the same instant.
func (s *Store) Read(orderID string, productIDs ...string) (app.Snapshot, error) {
	snap := app.Snapshot{
		Reservation: domain.Reservation{OrderID: orderID},
		Shelf:       domain.Shelf{Stock: map[string]domain.Stock{}, Products: map[string]domain.Product{}},
	}
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		if orderID != "" {
			if snap.Reservation, err = getReservation(tx, orderID); err != nil {
				return err
			}
		}
		if err := readShelves(tx, snap.Shelf, productIDs, snap.Reservation); err != nil {
			return err
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

// readShelves reads the given products and every product the reservation
// names or holds.
func readShelves(tx *bolt.Tx, shelf domain.Shelf, ids []string, r domain.Reservation) error {
	all := slices.Clone(ids) // the caller's slice is not ours to append to
	for _, l := range r.Lines {
		all = append(all, l.ProductID)
	}
	for id := range r.Holds {
		all = append(all, id)
	}
	for _, id := range all {
		if err := readShelf(tx, shelf, id); err != nil {
			return err
		}
	}
	return nil
}

func readShelf(tx *bolt.Tx, shelf domain.Shelf, id string) error {
	if _, done := shelf.Stock[id]; done {
		return nil
	}
	st, err := getStock(tx, id)
	if err != nil {
		return err
	}
	p, err := getProduct(tx, id)
	if err != nil {
		return err
	}
	shelf.Stock[id], shelf.Products[id] = st, p
	return nil
}

// Get implements app.ReadModel, from the KV read model.
func (s *Store) Get(ctx context.Context, productID string) (app.Stock, error) {
	snap, err := s.Read("", productID)
	if err != nil {
		return app.Stock{}, err
	}
	if !snap.Shelf.Products[productID].Exists() {
		return app.Stock{}, app.ErrNotFound
	}
	var v stockView
	found, err := s.views.Get(ctx, productID, &v)
	if err != nil || found {
		return v.app(), err
	}
	return app.Stock{ProductID: productID}, nil
}

// Changes implements app.ReadModel (mesh.Views.Changes).
func (s *Store) Changes(ctx context.Context) <-chan app.Stock {
	views := mesh.ChangesOf[stockView](ctx, s.views, nil)
	out := make(chan app.Stock)
	go func() {
		defer close(out)
		for v := range views {
			select {
			case out <- v.app():
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Low implements app.ReadModel.
func (s *Store) Low(below int64, cursor string, limit int) (app.StockPage, error) {
	after, err := paging.CursorKey(cursor)
	if err != nil {
		return app.StockPage{}, err
	}
	page := app.StockPage{Items: []app.Stock{}}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketProducts).Cursor()
		for k, v := paging.SeekAfter(c, after); k != nil; k, v = c.Next() {
			view, ok, err := lowStock(tx, k, v, below)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = paging.Cursor([]byte(page.Items[limit-1].ProductID))
				return nil
			}
			page.Items = append(page.Items, view.app())
		}
		return nil
	})
	return page, err
}

func lowStock(tx *bolt.Tx, id, product []byte, below int64) (stockView, bool, error) {
	var p productRecord
	if err := json.Unmarshal(product, &p); err != nil {
		return stockView{}, false, fmt.Errorf("decode product %s: %w", id, err)
	}
	if !p.domain().Exists() {
		return stockView{}, false, nil
	}
	st, err := getStock(tx, string(id))
	if err != nil {
		return stockView{}, false, err
	}
	return toView(string(id), st), st.Available() < below, nil
}
