package domain

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/events"
)

var known = Product{Known: true}

func TestAdjust(t *testing.T) {
	t.Parallel()
	s := Stock{ProductID: "p", OnHand: 10, Reserved: 4}
	cases := []struct {
		name    string
		product Product
		delta   int64
		onHand  int64
		err     error
	}{
		{"restock", known, 5, 15, nil},
		{"write off down to reserved", known, -6, 4, nil},
		{"below reserved", known, -7, 0, ErrBelowReserved},
		{"no change", known, 0, 0, ErrNoChange},
		{"absurd", known, MaxOnHand + 1, 0, ErrTooMuch},
		{"unknown product", Product{}, 1, 0, ErrUnknownProduct},
		{"deleted product", Product{Known: true, Deleted: true}, 1, 0, ErrUnknownProduct},
	}
	for _, reason := range []string{"a\x00b", "\x1b[31mred", "two\r\nlines", "bad \xff byte", "lone \ufffd surrogate", "", " ", "\u200b\u200b"} {
		if _, err := Adjust(s, known, 1, reason); !errors.Is(err, ErrBadReason) {
			t.Errorf("reason %q accepted: %v", reason, err)
		}
	}
	if e, err := Adjust(s, known, 1, " \u200brestock\u200b "); err != nil || e.Reason != "restock" {
		t.Errorf("a reason with spaces and zero-width spaces around: %q, %v; want it kept as %q", e.Reason, err, "restock")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Adjust(s, c.product, c.delta, "test")
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err == nil && e.OnHand != c.onHand {
				t.Fatalf("onHand = %d, want %d", e.OnHand, c.onHand)
			}
		})
	}
	if _, err := SetOnHand(s, known, -1); !errors.Is(err, ErrTooMuch) {
		t.Fatalf("negative count accepted: %v", err)
	}
}

func shelf(available map[string]int64) Shelf {
	sh := Shelf{Stock: map[string]Stock{}, Products: map[string]Product{}}
	for id, n := range available {
		sh.Stock[id] = Stock{ProductID: id, OnHand: n}
		sh.Products[id] = known
	}
	return sh
}

func TestReserveIsAllOrNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		existing Reservation
		lines    []events.Line
		want     []string // event types, in order
		short    []string
	}{
		{"all fit", Reservation{}, []events.Line{ln("a", 2), ln("b", 1)},
			[]string{"stock.reserved", "stock.reserved", "reservation.accepted"}, nil},
		{"one short", Reservation{}, []events.Line{ln("a", 2), ln("b", 9)}, []string{"reservation.rejected"}, []string{"b"}},
		{"unknown product", Reservation{}, []events.Line{ln("x", 1)}, []string{"reservation.rejected"}, []string{"x"}},
		{"merged lines exceed", Reservation{}, []events.Line{ln("a", 3), ln("a", 3)}, []string{"reservation.rejected"}, []string{"a"}},
		{"already decided", Reservation{Status: StatusReserved, Holds: map[string]int64{"a": 1}}, []events.Line{ln("a", 1)}, nil, nil},
		{"released before placed", Reservation{Status: StatusReleased}, []events.Line{ln("a", 1)}, nil, nil},
		// Decided again after a crash or a lost race between its events.
		{"interrupted after the first hold", holding("a", 2), []events.Line{ln("a", 2), ln("b", 1)},
			[]string{"stock.reserved", "reservation.accepted"}, nil},
		{"interrupted after every hold", holding("a", 2, "b", 1), []events.Line{ln("a", 2), ln("b", 1)},
			[]string{"reservation.accepted"}, nil},
		{"own hold counts as available", holding("a", 5), []events.Line{ln("a", 5)}, []string{"reservation.accepted"}, nil},
		{"rejected after a hold", holding("a", 2), []events.Line{ln("a", 2), ln("b", 9)},
			[]string{"stock.released", "reservation.rejected"}, []string{"b"}},
		{"released while holding", Reservation{Status: StatusReleased, Holds: map[string]int64{"b": 1}},
			[]events.Line{ln("a", 2), ln("b", 1)}, []string{"stock.released"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Reserve(c.existing, "o1", c.lines, shelf(map[string]int64{"a": 5, "b": 5}))
			if types(got) != strings.Join(c.want, " ") {
				t.Fatalf("events %s, want %v", types(got), c.want)
			}
			if c.short == nil {
				return
			}
			rej := got[len(got)-1].(events.ReservationRejected)
			for i, id := range c.short {
				if rej.Shortages[i].ProductID != id {
					t.Fatalf("shortages %+v, want %v", rej.Shortages, c.short)
				}
			}
		})
	}
}

// holding is an undecided reservation of o1 that holds the given
// products and quantities: product, quantity, product, quantity...
func holding(pairs ...any) Reservation {
	r := Reservation{OrderID: "o1", Holds: map[string]int64{}}
	for i := 0; i < len(pairs); i += 2 {
		r.Holds[pairs[i].(string)] = int64(pairs[i+1].(int))
	}
	return r
}

func TestReleaseAndCommit(t *testing.T) {
	t.Parallel()
	committed := func(evs []events.Event, err error) []events.Event {
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	held := Reservation{OrderID: "o1", Status: StatusReserved, Lines: []events.Line{ln("a", 2), ln("b", 1)},
		Holds: map[string]int64{"a": 2, "b": 1}}
	halfCommitted := held
	halfCommitted.Holds = map[string]int64{"b": 1}
	cases := []struct {
		name string
		got  []events.Event
		want string
	}{
		{"release held", Release(held, "o1", "cancelled"), "stock.released stock.released reservation.released"},
		{"release before reservation", Release(Reservation{}, "o1", "cancelled"), "reservation.released"},
		{"release during a reservation", Release(holding("a", 2), "o1", "cancelled"), "stock.released reservation.released"},
		{"release rejected", Release(Reservation{Status: StatusRejected}, "o1", "x"), ""},
		{"release left over holds", Release(Reservation{Status: StatusRejected, Holds: map[string]int64{"a": 1}}, "o1", "x"),
			"stock.released"},
		{"release committed", Release(Reservation{Status: StatusCommitted}, "o1", "x"), ""},
		{"release being committed", Release(Reservation{Status: StatusCommitted, Holds: map[string]int64{"a": 1}}, "o1", "x"), ""},
		{"commit held", committed(Commit(held, "o1")), "stock.committed stock.committed reservation.committed"},
		{"commit interrupted", committed(Commit(halfCommitted, "o1")), "stock.committed reservation.committed"},
		{"commit released", committed(Commit(Reservation{Status: StatusReleased}, "o1")), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if types(c.got) != c.want {
				t.Fatalf("events %q, want %q", types(c.got), c.want)
			}
		})
	}
}

func TestEvolveStockKeepsTheBooksBalanced(t *testing.T) {
	t.Parallel()
	s := Stock{ProductID: "p"}
	for _, e := range []events.Event{
		events.StockAdjusted{ProductID: "p", Delta: 10, OnHand: 10},
		events.StockReserved{ProductID: "p", OrderID: "o1", Quantity: 3},
		events.StockReserved{ProductID: "p", OrderID: "o2", Quantity: 2},
		events.StockReleased{ProductID: "p", OrderID: "o1", Quantity: 3},
		events.StockCommitted{ProductID: "p", OrderID: "o2", Quantity: 2},
	} {
		s = EvolveStock(s, e)
		if s.OnHand != s.Available()+s.Reserved || s.Available() < 0 {
			t.Fatalf("unbalanced after %T: %+v", e, s)
		}
	}
	if s.OnHand != 8 || s.Reserved != 0 || s.Version != 5 {
		t.Fatalf("final stock %+v", s)
	}
}

func types(evs []events.Event) string {
	out := make([]string, len(evs))
	for i, e := range evs {
		t := e.EventType() // shopmesh.inventory.<entity>.<event>.v1
		out[i] = strings.TrimSuffix(strings.TrimPrefix(t, "shopmesh.inventory."), ".v1")
	}
	return strings.Join(out, " ")
}

func ln(productID string, quantity int64) events.Line {
	return events.Line{ProductID: productID, Quantity: quantity}
}

// An order is confirmed only after inventory accepted it, so a commit for
// a reservation this state does not know, or one still being written, is
// ahead of it and must wait, never be dropped: the stock would stay held.
func TestCommitAheadOfItsReservationWaits(t *testing.T) {
	t.Parallel()
	for name, r := range map[string]Reservation{"unknown": {}, "being written": holding("a", 2)} {
		t.Run(name, func(t *testing.T) {
			if evs, err := Commit(r, "o1"); !errors.Is(err, ErrNotYet) || len(evs) != 0 {
				t.Fatalf("decided %v, %v; want ErrNotYet", evs, err)
			}
		})
	}
}

func TestEvolveReservationFollowsItsHolds(t *testing.T) {
	t.Parallel()
	r := Reservation{OrderID: "o1"}
	for _, e := range []events.Event{
		events.StockReserved{ProductID: "a", OrderID: "o1", Quantity: 2},
		events.StockReserved{ProductID: "b", OrderID: "o1", Quantity: 1},
		events.ReservationAccepted{OrderID: "o1", Lines: []events.Line{ln("a", 2), ln("b", 1)}},
		events.StockCommitted{ProductID: "a", OrderID: "o1", Quantity: 2},
	} {
		r = EvolveReservation(r, e)
	}
	if r.Status != StatusReserved || len(r.Holds) != 1 || r.Holds["b"] != 1 {
		t.Fatalf("reservation %+v, want reserved and holding only b", r)
	}
	evs, err := Commit(r, "o1")
	if got := types(evs); err != nil || got != "stock.committed reservation.committed" {
		t.Fatalf("commit completes with %q, %v", got, err)
	}
}
