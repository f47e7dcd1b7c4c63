// Package store keeps the catalog's local state: a bbolt file projected from
// the PRODUCTS stream (products by id, the sku index) and the catalog KV read
// model it publishes. It implements the ports app declares (app.State,
// app.ReadModel).
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/products/app"
	"github.com/shopmesh/shopmesh/svc/products/domain"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketProducts = []byte("products")
	bucketSKUs     = []byte("skus")
)

// schemaVersion changes whenever the buckets or what they hold change; a
// file of another version is rebuilt from the streams at start.
const schemaVersion = 1

// Store reads and projects the catalog.
type Store struct {
	db    *bolt.DB
	views *mesh.Views
}

var (
	_ app.State     = (*Store)(nil)
	_ app.ReadModel = (*Store)(nil)
)

// New wraps the service's bbolt file and its catalog views.
func New(db *bolt.DB, views *mesh.Views) (*Store, error) {
	if err := mesh.PrepareState(db, schemaVersion, bucketProducts, bucketSKUs); err != nil {
		return nil, fmt.Errorf("products store: %w", err)
	}
	return &Store{db: db, views: views}, nil
}

// Apply implements mesh.Projector.
func (s *Store) Apply(tx *bolt.Tx, e mesh.Envelope) ([]mesh.View, error) {
	ev, err := events.Decode(e.Type, e.Data)
	if err != nil || ev == nil {
		return nil, err
	}
	products, skus := tx.Bucket(bucketProducts), tx.Bucket(bucketSKUs)
	id := events.IDOf(e.Subject)
	var r productRecord
	if _, err := mesh.GetJSON(products, id, &r); err != nil {
		return nil, err
	}
	p := r.domain()
	if p.SKU != "" && string(skus.Get([]byte(p.SKU))) == id {
		if err := skus.Delete([]byte(p.SKU)); err != nil {
			return nil, err
		}
	}
	p = domain.Evolve(p, ev, e.Time)
	if err := mesh.PutJSON(products, id, toRecord(p)); err != nil {
		return nil, err
	}
	if !p.Exists() {
		return []mesh.View{{Key: id}}, nil
	}
	if err := skus.Put([]byte(p.SKU), []byte(id)); err != nil {
		return nil, err
	}
	return []mesh.View{{Key: id, Value: toView(p)}}, nil
}

// ForWrite implements app.State.
func (s *Store) ForWrite(id, sku string) (app.Snapshot, error) {
	var snap app.Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		var r productRecord
		if _, err := mesh.GetJSON(tx.Bucket(bucketProducts), id, &r); err != nil {
			return err
		}
		snap.Product = r.domain()
		snap.Catalog.SKUOwner = string(tx.Bucket(bucketSKUs).Get([]byte(sku)))
		snap.Position = mesh.Position(tx, events.ProductsStream)
		return nil
	})
	return snap, err
}

// Get implements app.ReadModel, from the catalog read model.
func (s *Store) Get(ctx context.Context, id string) (app.Product, error) {
	v, err := mesh.Lookup[productView](ctx, s.views, id, domain.ErrNotFound)
	return v.app(), err
}

// List implements app.ReadModel.
func (s *Store) List(q, cursor string, limit int) (app.ProductPage, error) {
	after, err := paging.CursorKey(cursor)
	if err != nil {
		return app.ProductPage{}, err
	}
	q = strings.ToLower(q)
	page := app.ProductPage{Items: []app.Product{}}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketProducts).Cursor()
		for k, v := paging.SeekAfter(c, after); k != nil; k, v = c.Next() {
			p, ok, err := matching(k, v, q)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = paging.Cursor([]byte(page.Items[limit-1].ID))
				return nil
			}
			page.Items = append(page.Items, toView(p).app())
		}
		return nil
	})
	return page, err
}

func matching(id, data []byte, q string) (domain.Product, bool, error) {
	var r productRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return domain.Product{}, false, fmt.Errorf("decode product %s: %w", id, err)
	}
	p := r.domain()
	if !p.Exists() {
		return p, false, nil
	}
	if q == "" {
		return p, true, nil
	}
	return p, strings.Contains(strings.ToLower(p.SKU), q) || strings.Contains(strings.ToLower(p.Name), q), nil
}
