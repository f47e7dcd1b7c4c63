package store

import (
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/orders/app"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
	bolt "go.etcd.io/bbolt"
)

// record is an order as the bbolt file keeps it: what readers see of it,
// and what only the service needs (the payment token, the hash of the
// request that placed it). The domain's Order knows nothing of how it is
// stored. The JSON names are the file's format, the same as when the
// domain type carried them, so schemaVersion stays.
type record struct {
	app.View
	PaymentToken string `json:"paymentToken"`
	RequestHash  string `json:"requestHash,omitempty"`
}

func toRecord(o domain.Order) record {
	return record{View: app.ToView(o), PaymentToken: o.PaymentToken, RequestHash: o.RequestHash}
}

func (r record) order() domain.Order {
	return domain.Order{
		ID: r.ID, CustomerID: r.CustomerID, Items: r.Items, Total: r.Total, PaymentToken: r.PaymentToken,
		Status: r.Status, Reason: r.Reason, PaymentID: r.PaymentID, ExpiresAt: r.ExpiresAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version, RequestHash: r.RequestHash,
	}
}

// findOrder reads an order from the orders bucket, reporting whether it
// is there; a record that does not decode is an error.
func findOrder(b *bolt.Bucket, id string) (domain.Order, bool, error) {
	var r record
	ok, err := mesh.GetJSON(b, id, &r)
	return r.order(), ok, err
}

// getOrder reads an order, or the zero order (not placed) when there is
// none.
func getOrder(b *bolt.Bucket, id string) (domain.Order, error) {
	o, _, err := findOrder(b, id)
	return o, err
}

// catalogRecord is a product of the catalog replica as the file keeps it.
type catalogRecord struct {
	Name    string       `json:"name"`
	Price   events.Money `json:"price"`
	Deleted bool         `json:"deleted,omitempty"`
}

func (c catalogRecord) entry() domain.CatalogEntry {
	return domain.CatalogEntry{Name: c.Name, Price: c.Price, Deleted: c.Deleted}
}
