package domain

import (
	"fmt"
	"maps"
	"slices"
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
//
// Its decisions are written one event at a time: a hold per product
// (inventory.stock.<product>.reserved), then the reservation's own event,
// which makes the decision final. A crash or a lost race can stop a
// decision between the two, so every rule below starts from what is
// already held (Holds) and decides only what is missing. Deciding again
// after an interruption completes the decision instead of repeating it.
type Reservation struct {
	OrderID string
	Status  string
	Lines   []events.Line
	// Holds is what the order holds of each product right now, as the
	// stock events say; it can be ahead of Status while a decision is
	// being written.
	Holds map[string]int64
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
// every line or none. Lines for the same product are merged first. Holds
// left by an interrupted attempt count as reserved; if the order is
// rejected after all, they are given back.
func Reserve(r Reservation, orderID string, lines []events.Line, shelf Shelf) []events.Event {
	if r.Exists() {
		// Already decided: a redelivery changes nothing, except that holds
		// a lost race left behind are given back.
		return leftovers(r, orderID)
	}
	lines = merge(lines)
	if reason, short := shortages(r, lines, shelf); len(short) > 0 {
		rejected := events.ReservationRejected{OrderID: orderID, Reason: reason, Shortages: short}
		return append(giveBack(r, orderID), rejected)
	}
	out := make([]events.Event, 0, len(lines)+1)
	for _, l := range lines {
		if r.Holds[l.ProductID] == 0 {
			out = append(out, events.StockReserved{ProductID: l.ProductID, OrderID: orderID, Quantity: l.Quantity})
		}
	}
	return append(out, events.ReservationAccepted{OrderID: orderID, Lines: lines})
}

func shortages(r Reservation, lines []events.Line, shelf Shelf) (string, []events.Shortage) {
	short := []events.Shortage{}
	reason := "out of stock"
	for _, l := range lines {
		available := shelf.Stock[l.ProductID].Available() + r.Holds[l.ProductID]
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
	// A fixed order keeps the events, and so their ids, the same on every
	// retry.
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out
}

// held lists what the order holds, by product id.
func held(r Reservation) []events.Line {
	out := make([]events.Line, 0, len(r.Holds))
	for _, id := range slices.Sorted(maps.Keys(r.Holds)) {
		if q := r.Holds[id]; q > 0 {
			out = append(out, events.Line{ProductID: id, Quantity: q})
		}
	}
	return out
}

// giveBack releases everything the order still holds.
func giveBack(r Reservation, orderID string) []events.Event {
	var out []events.Event
	for _, l := range held(r) {
		out = append(out, events.StockReleased{ProductID: l.ProductID, OrderID: orderID, Quantity: l.Quantity})
	}
	return out
}

// Release decides to give back an order's stock when the order ended
// without shipping. With no reservation yet, it records a release anyway,
// so that a late "placed" event cannot reserve stock for a finished order.
func Release(r Reservation, orderID, reason string) []events.Event {
	switch r.Status {
	case "", StatusReserved:
		released := events.ReservationReleased{OrderID: orderID, Reason: reason, Lines: held(r)}
		return append(giveBack(r, orderID), released)
	}
	return leftovers(r, orderID)
}

// leftovers gives back holds of an order whose reservation was rejected or
// released while an attempt to reserve was still writing them (replicas
// racing on one order).
func leftovers(r Reservation, orderID string) []events.Event {
	if r.Status == StatusRejected || r.Status == StatusReleased {
		return giveBack(r, orderID)
	}
	return nil
}

// Commit decides that a confirmed order's reserved stock leaves the shelf.
func Commit(r Reservation, orderID string) ([]events.Event, error) {
	if !r.Exists() {
		return nil, fmt.Errorf("%w: order %s", ErrNotYet, orderID)
	}
	if r.Status != StatusReserved {
		return nil, nil
	}
	out := make([]events.Event, 0, len(r.Lines)+1)
	for _, l := range held(r) {
		out = append(out, events.StockCommitted{ProductID: l.ProductID, OrderID: r.OrderID, Quantity: l.Quantity})
	}
	return append(out, events.ReservationCommitted{OrderID: r.OrderID, Lines: r.Lines}), nil
}

// EvolveReservation applies one reservation event, or one stock event of
// the order's (which moves its holds).
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
	case events.StockReserved:
		r.hold(e.OrderID, e.ProductID, e.Quantity)
	case events.StockReleased:
		r.hold(e.OrderID, e.ProductID, -e.Quantity)
	case events.StockCommitted:
		r.hold(e.OrderID, e.ProductID, -e.Quantity)
	}
	return r
}

func (r *Reservation) hold(orderID, productID string, q int64) {
	r.OrderID = orderID
	if r.Holds == nil {
		r.Holds = map[string]int64{}
	}
	if r.Holds[productID] += q; r.Holds[productID] == 0 {
		delete(r.Holds, productID)
	}
}
