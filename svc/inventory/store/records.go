package store

import (
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/svc/inventory/app"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
)

// The records below are how the domain's state is kept in the file, and
// the stock view in KV. Their JSON is the one the domain types used to
// carry, so files written before are read the same.

type productRecord struct {
	Known   bool `json:"known"`
	Deleted bool `json:"deleted"`
}

func toProductRecord(p domain.Product) productRecord { return productRecord(p) }

func (r productRecord) domain() domain.Product { return domain.Product(r) }

type stockRecord struct {
	ProductID string `json:"productId"`
	OnHand    int64  `json:"onHand"`
	Reserved  int64  `json:"reserved"`
	Version   int64  `json:"version"`
}

func toStockRecord(s domain.Stock) stockRecord { return stockRecord(s) }

func (r stockRecord) domain() domain.Stock { return domain.Stock(r) }

type reservationRecord struct {
	OrderID string           `json:"orderId"`
	Status  string           `json:"status"`
	Lines   []events.Line    `json:"lines"`
	Holds   map[string]int64 `json:"holds,omitempty"`
}

func toReservationRecord(r domain.Reservation) reservationRecord { return reservationRecord(r) }

func (r reservationRecord) domain() domain.Reservation { return domain.Reservation(r) }

// stockView is a product's stock in the KV read model.
type stockView struct {
	ProductID string `json:"productId"`
	OnHand    int64  `json:"onHand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	Version   int64  `json:"version"`
}

func toView(productID string, s domain.Stock) stockView {
	return stockView{ProductID: productID, OnHand: s.OnHand, Reserved: s.Reserved, Available: s.Available(), Version: s.Version}
}

func (v stockView) app() app.Stock { return app.Stock(v) }
