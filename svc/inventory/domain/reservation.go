package domain

import (
	"fmt"
	"sort"

	"github.com/shopmesh/shopmesh/events"
)

// Reservation statuses. An order has at most one reservation, and once it
// has left "reserved" it never changes again.
const (
	StatusReserved  = "reserved"
	StatusRejected  = "rejected"
	StatusReleased  = "released"
	StatusCommitted = "committed"
)

// Reservation is the stock held for one order.
type Reservation struct {
	OrderID string        `json:"orderId"`
	Status  string        `json:"status"`
	Lines   []events.Line `json:"lines"`
	LastSeq uint64        `json:"lastSeq"`
}

// Exists reports whether inventory has decided anything for the order.
func (r Reservation) Exists() bool { return r.Status != "" }

// Shelf is the state a reservation decision reads: stock and catalog
// knowledge of every product the order names.
type Shelf struct {
	Stock    map[string]Stock
	Products map[string]Product
}

// Reserve decides, for an order that has no reservation yet, to reserve
// every line or none. Lines for the same product are merged first.
func Reserve(r Reservation, orderID string, lines []events.Line, shelf Shelf) []events.Event {
	if r.Exists() {
		return nil // already decided: a redelivery changes nothing
	}
	lines = merge(lines)
	if reason, short := shortages(lines, shelf); len(short) > 0 {
		return []events.Event{events.ReservationRejected{OrderID: orderID, Reason: reason, Shortages: short}}
	}
	out := make([]events.Event, 0, len(lines)+1)
	for _, l := range lines {
		out = append(out, events.StockReserved{ProductID: l.ProductID, OrderID: orderID, Quantity: l.Quantity})
	}
	return append(out, events.ReservationAccepted{OrderID: orderID, Lines: lines})
}

func shortages(lines []events.Line, shelf Shelf) (string, []events.Shortage) {
	short := []events.Shortage{}
	reason := "out of stock"
	for _, l := range lines {
		available := shelf.Stock[l.ProductID].Available()
		if !shelf.Products[l.ProductID].Exists() {
			reason, available = "unknown product", 0
		}
		if l.Quantity <= 0 || available < l.Quantity {
			short = append(short, events.Shortage{ProductID: l.ProductID, Requested: l.Quantity, Available: max(available, 0)})
		}
	}
	if len(short) > 0 {
		reason = fmt.Sprintf("%s: %s", reason, productList(short))
	}
	return reason, short
}

func productList(s []events.Shortage) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x.ProductID
	}
	return out
}

func merge(lines []events.Line) []events.Line {
	sum := map[string]int64{}
	for _, l := range lines {
		sum[l.ProductID] += l.Quantity
	}
	out := make([]events.Line, 0, len(sum))
	for id, q := range sum {
		out = append(out, events.Line{ProductID: id, Quantity: q})
	}
	// A fixed order keeps the batch, and so its message ids, the same on
	// every retry.
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out
}

// Release decides to give back an order's stock when the order ended
// without shipping. With no reservation yet, it records a release anyway,
// so that a late "placed" event cannot reserve stock for a finished order.
func Release(r Reservation, orderID, reason string) []events.Event {
	switch r.Status {
	case "":
		return []events.Event{events.ReservationReleased{OrderID: orderID, Reason: reason, Lines: []events.Line{}}}
	case StatusReserved:
		out := make([]events.Event, 0, len(r.Lines)+1)
		for _, l := range r.Lines {
			out = append(out, events.StockReleased{ProductID: l.ProductID, OrderID: orderID, Quantity: l.Quantity})
		}
		return append(out, events.ReservationReleased{OrderID: orderID, Reason: reason, Lines: r.Lines})
	}
	return nil
}

// Commit decides that a confirmed order's reserved stock leaves the shelf.
func Commit(r Reservation) []events.Event {
	if r.Status != StatusReserved {
		return nil
	}
	out := make([]events.Event, 0, len(r.Lines)+1)
	for _, l := range r.Lines {
		out = append(out, events.StockCommitted{ProductID: l.ProductID, OrderID: r.OrderID, Quantity: l.Quantity})
	}
	return append(out, events.ReservationCommitted{OrderID: r.OrderID, Lines: r.Lines})
}

// EvolveReservation applies one reservation event.
func EvolveReservation(r Reservation, e events.Event) Reservation {
	switch e := e.(type) {
	case events.ReservationAccepted:
		r.OrderID, r.Status, r.Lines = e.OrderID, StatusReserved, e.Lines
	case events.ReservationRejected:
		r.OrderID, r.Status = e.OrderID, StatusRejected
	case events.ReservationReleased:
		r.OrderID, r.Status = e.OrderID, StatusReleased
	case events.ReservationCommitted:
		r.OrderID, r.Status = e.OrderID, StatusCommitted
	}
	return r
}
