// Package store keeps the catalog's local state: a bbolt file projected from
// the PRODUCTS stream (products by id, the sku index) and the catalog KV read
// model it publishes.
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/paging"
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
	var p domain.Product
	mesh.GetJSON(products, id, &p)
	if p.SKU != "" && string(skus.Get([]byte(p.SKU))) == id {
		if err := skus.Delete([]byte(p.SKU)); err != nil {
			return nil, err
		}
	}
	p = domain.Evolve(p, ev, e.Time)
	if err := mesh.PutJSON(products, id, p); err != nil {
		return nil, err
	}
	if !p.Exists() {
		return []mesh.View{{Key: id}}, nil
	}
	if err := skus.Put([]byte(p.SKU), []byte(id)); err != nil {
		return nil, err
	}
	return []mesh.View{{Key: id, Value: p}}, nil
}

// Snapshot is what a write decision reads, taken in one transaction.
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

// ForWrite reads product id, the owner of sku and the stream position they
// reflect, all at one point in time.
func (s *Store) ForWrite(id, sku string) (Snapshot, error) {
	var snap Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		mesh.GetJSON(tx.Bucket(bucketProducts), id, &snap.Product)
		snap.Catalog.SKUOwner = string(tx.Bucket(bucketSKUs).Get([]byte(sku)))
		snap.Position = mesh.Position(tx, events.ProductsStream)
		return nil
	})
	return snap, err
}

// Get returns a product from the catalog read model.
func (s *Store) Get(ctx context.Context, id string) (domain.Product, error) {
	return mesh.Lookup[domain.Product](ctx, s.views, id, domain.ErrNotFound)
}

// Page is one page of a product list.
type Page = paging.Page[domain.Product]

// List returns up to limit products after cursor, oldest first, whose sku or
// name contains q (any case).
func (s *Store) List(q, cursor string, limit int) (Page, error) {
	after, err := paging.CursorKey(cursor)
	if err != nil {
		return Page{}, err
	}
	q = strings.ToLower(q)
	page := Page{Items: []domain.Product{}}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketProducts).Cursor()
		for k, v := paging.SeekAfter(c, after); k != nil; k, v = c.Next() {
			p, ok := matching(v, q)
			if !ok {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = paging.Cursor([]byte(page.Items[limit-1].ID))
				return nil
			}
			page.Items = append(page.Items, p)
		}
		return nil
	})
	return page, err
}

func matching(data []byte, q string) (domain.Product, bool) {
	var p domain.Product
	if err := json.Unmarshal(data, &p); err != nil || !p.Exists() {
		return p, false
	}
	if q == "" {
		return p, true
	}
	return p, strings.Contains(strings.ToLower(p.SKU), q) || strings.Contains(strings.ToLower(p.Name), q)
}
