// Package domain holds the catalog's rules: what a valid product is, which
// changes are allowed, and how events build a product's state. It knows
// nothing about NATS, bbolt or HTTP.
package domain

import (
	"errors"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

// Errors the catalog's rules can give; the API maps each to one status.
var (
	ErrNotFound      = errors.New("product not found")
	ErrSKUTaken      = errors.New("sku already used by another product")
	ErrStaleVersion  = errors.New("product has changed since the version given")
	ErrAlreadyExists = errors.New("product already exists")
)

// Product is one catalog entry as the events built it.
type Product struct {
	ID          string
	SKU         string
	Name        string
	Description string
	Price       events.Money
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
	Deleted     bool
}

// Exists reports whether the product is in the catalog.
func (p Product) Exists() bool { return p.ID != "" && !p.Deleted }

// Draft is what a writer asks a product to be.
type Draft = events.ProductFields

// Catalog is what a decision needs to know beyond the product itself.
type Catalog struct {
	// SKUOwner is the id of the product that holds the draft's sku, if any.
	SKUOwner string
}

// Create decides a new product.
func Create(id string, current Product, d Draft, c Catalog) (events.ProductCreated, error) {
	if current.ID != "" {
		return events.ProductCreated{}, ErrAlreadyExists
	}
	d = Tidy(d)
	if err := Validate(d); err != nil {
		return events.ProductCreated{}, err
	}
	if c.SKUOwner != "" {
		return events.ProductCreated{}, ErrSKUTaken
	}
	return events.ProductCreated{ProductID: id, ProductFields: d}, nil
}

// Update decides new values for every field. ifVersion, when not zero, must
// be the product's current version.
func Update(p Product, d Draft, c Catalog, ifVersion int64) (events.ProductUpdated, error) {
	if err := checkWritable(p, ifVersion); err != nil {
		return events.ProductUpdated{}, err
	}
	d = Tidy(d)
	if err := Validate(d); err != nil {
		return events.ProductUpdated{}, err
	}
	if c.SKUOwner != "" && c.SKUOwner != p.ID {
		return events.ProductUpdated{}, ErrSKUTaken
	}
	return events.ProductUpdated{ProductID: p.ID, ProductFields: d}, nil
}

// Delete decides to remove the product from the catalog.
func Delete(p Product, ifVersion int64) (events.ProductDeleted, error) {
	if err := checkWritable(p, ifVersion); err != nil {
		return events.ProductDeleted{}, err
	}
	return events.ProductDeleted{ProductID: p.ID}, nil
}

func checkWritable(p Product, ifVersion int64) error {
	if !p.Exists() {
		return ErrNotFound
	}
	if ifVersion != 0 && ifVersion != p.Version {
		return ErrStaleVersion
	}
	return nil
}

// Evolve applies one recorded event to the product. at is when it was
// recorded, so a rebuild gives the same timestamps.
func Evolve(p Product, e events.Event, at time.Time) Product {
	switch e := e.(type) {
	case events.ProductCreated:
		p = Product{ID: e.ProductID, CreatedAt: at}
		p.setFields(e.ProductFields)
	case events.ProductUpdated:
		p.setFields(e.ProductFields)
	case events.ProductDeleted:
		p.Deleted = true
	default:
		return p
	}
	p.UpdatedAt = at
	p.Version++
	return p
}

func (p *Product) setFields(f events.ProductFields) {
	p.SKU, p.Name, p.Description, p.Price = f.SKU, f.Name, f.Description, f.Price
}
