// Package domain holds inventory's rules: stock per product (on hand,
// reserved, available) and reservations per order, which take stock for
// every line of an order or for none.
package domain

import (
	"errors"
	"fmt"

	"github.com/shopmesh/shopmesh/events"
)

// Errors of inventory's rules.
var (
	ErrUnknownProduct = errors.New("unknown product")
	ErrBelowReserved  = errors.New("on hand would fall below what is reserved")
	ErrNoChange       = errors.New("adjustment changes nothing")
	ErrTooMuch        = errors.New("count out of range")
	ErrBadReason      = errors.New("the reason must be text on one line, with a visible character and without control characters")
	// ErrNotYet is an order event that arrived ahead of the reservation it
	// follows: an order is confirmed only once inventory accepted it. The
	// state that decided lags; it is decided again once it has caught up.
	ErrNotYet = errors.New("the reservation this follows is not known yet")
)

// MaxOnHand bounds a product's count so sums never overflow.
const MaxOnHand = 1_000_000_000

// Product is what inventory knows of a catalog entry.
type Product struct {
	Known   bool
	Deleted bool
}

// Exists reports whether stock of the product may be kept and reserved.
func (p Product) Exists() bool { return p.Known && !p.Deleted }

// Stock is one product's count.
type Stock struct {
	ProductID string
	OnHand    int64
	Reserved  int64
	Version   int64
}

// Available is what can still be reserved.
func (s Stock) Available() int64 { return s.OnHand - s.Reserved }

// Adjust decides a change of the count on hand by delta.
func Adjust(s Stock, p Product, delta int64, reason string) (events.StockAdjusted, error) {
	if !p.Exists() {
		return events.StockAdjusted{}, ErrUnknownProduct
	}
	onHand := s.OnHand + delta
	reason = events.Tidy(reason)
	switch {
	case !events.Visible(reason) || !events.PlainText(reason, false):
		return events.StockAdjusted{}, ErrBadReason
	case delta == 0:
		return events.StockAdjusted{}, ErrNoChange
	case onHand > MaxOnHand || delta > MaxOnHand || delta < -MaxOnHand:
		return events.StockAdjusted{}, fmt.Errorf("%w: at most %d on hand", ErrTooMuch, MaxOnHand)
	case onHand < s.Reserved:
		return events.StockAdjusted{}, fmt.Errorf("%w: %d reserved, %d would be on hand", ErrBelowReserved, s.Reserved, onHand)
	}
	return events.StockAdjusted{ProductID: s.ProductID, Delta: delta, OnHand: onHand, Reason: reason}, nil
}

// SetOnHand decides the adjustment that makes the count onHand.
func SetOnHand(s Stock, p Product, onHand int64) (events.StockAdjusted, error) {
	if onHand < 0 || onHand > MaxOnHand {
		return events.StockAdjusted{}, fmt.Errorf("%w: 0 to %d", ErrTooMuch, MaxOnHand)
	}
	return Adjust(s, p, onHand-s.OnHand, "count set")
}

// EvolveStock applies one stock event.
func EvolveStock(s Stock, e events.Event) Stock {
	switch e := e.(type) {
	case events.StockAdjusted:
		s.ProductID, s.OnHand = e.ProductID, e.OnHand
	case events.StockReserved:
		s.ProductID = e.ProductID
		s.Reserved += e.Quantity
	case events.StockReleased:
		s.Reserved -= e.Quantity
	case events.StockCommitted:
		s.Reserved -= e.Quantity
		s.OnHand -= e.Quantity
	default:
		return s
	}
	s.Version++
	return s
}
