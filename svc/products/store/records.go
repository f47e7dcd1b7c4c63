package store

import (
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/svc/products/app"
	"github.com/shopmesh/shopmesh/svc/products/domain"
)

// productRecord is how a product is kept in the file. Its JSON is the one
// the domain type used to carry, so files written before are read the same.
type productRecord struct {
	ID          string       `json:"id"`
	SKU         string       `json:"sku"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Price       events.Money `json:"price"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
	Version     int64        `json:"version"`
	Deleted     bool         `json:"deleted,omitempty"`
}

func toRecord(p domain.Product) productRecord { return productRecord(p) }

func (r productRecord) domain() domain.Product { return domain.Product(r) }

// productView is a product in the KV read model, which holds only
// products in the catalog (a deleted one's view is deleted).
type productView struct {
	ID          string       `json:"id"`
	SKU         string       `json:"sku"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Price       events.Money `json:"price"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
	Version     int64        `json:"version"`
}

func toView(p domain.Product) productView {
	return productView{
		ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description, Price: p.Price,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
}

func (v productView) app() app.Product { return app.Product(v) }
