package app_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/inventory"
	"github.com/shopmesh/shopmesh/svc/inventory/app"
	"github.com/shopmesh/shopmesh/svc/inventory/domain"
	"github.com/shopmesh/shopmesh/svc/inventory/store"
)

// fixture is inventory's application on an embedded JetStream, without
// its HTTP operations or reactions: the test calls the handlers itself.
// The writer is a real mesh.Writer, so the state behind it is the
// real store.
type fixture struct {
	t      *testing.T
	app    app.Application
	state  app.State
	pub    *mesh.Publisher
	causes int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	n := meshtest.Node(t)
	ctx := meshtest.Context(t)
	plan := inventory.New().Plan()
	rt := meshtest.Open(t, n, plan)
	st, w, err := mesh.Project(ctx, rt, store.New, events.ProductsStream)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, app: app.New(st, st, w, rt.Observer()), state: st, pub: mesh.NewPublisher(n.JS, "shopmesh/test", nil)}
}

func (f *fixture) cause() mesh.Cause {
	f.causes++
	return mesh.Cause{ID: "cmd-" + strconv.Itoa(f.causes)}
}

// price is what the catalog gives every product here: inventory reads
// none, but the catalog's events carry one.
var price = events.Money{Amount: 100, Currency: "EUR"}

// product publishes the catalog's creation of id, as the catalog would.
func (f *fixture) product(id string) {
	f.t.Helper()
	if _, err := f.pub.Publish(meshtest.Context(f.t), f.cause(), mesh.Outgoing{Event: events.ProductCreated{ProductID: id, ProductFields: events.ProductFields{SKU: id, Name: id, Price: price}}}); err != nil {
		f.t.Fatal(err)
	}
}

// stocked creates id with onHand units.
func (f *fixture) stocked(id string, onHand int64) {
	f.t.Helper()
	f.product(id)
	if err := f.app.Commands.SetStock.Handle(meshtest.Context(f.t), app.SetStock{RequestID: f.cause().ID, ProductID: id, OnHand: onHand}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) expectStock(id string, onHand, reserved int64) {
	f.t.Helper()
	s, err := f.app.Queries.Get.Handle(meshtest.Context(f.t), app.GetStock{ProductID: id})
	if err != nil {
		f.t.Fatal(err)
	}
	if s.OnHand != onHand || s.Reserved != reserved || s.Available != onHand-reserved {
		f.t.Fatalf("stock of %s is %+v, want %d on hand and %d reserved", id, s, onHand, reserved)
	}
}

func (f *fixture) expectReservation(orderID, status string) {
	f.t.Helper()
	snap, err := f.state.Read(orderID)
	if err != nil {
		f.t.Fatal(err)
	}
	if snap.Reservation.Status != status {
		f.t.Fatalf("reservation of %s is %q, want %q", orderID, snap.Reservation.Status, status)
	}
}

// Setting and adjusting stock refuse what the rules refuse, and change
// nothing when they do.
func TestSetAndAdjustStock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.stocked("mug", 10)
	ctx := meshtest.Context(t)
	if err := f.app.Commands.Reserve.Handle(ctx, app.Reserve{Cause: f.cause(), OrderID: "o1", Lines: []events.Line{{ProductID: "mug", Quantity: 4}}}); err != nil {
		t.Fatal(err)
	}
	set := func(onHand int64) func(string) error {
		return func(id string) error {
			return f.app.Commands.SetStock.Handle(ctx, app.SetStock{RequestID: f.cause().ID, ProductID: id, OnHand: onHand})
		}
	}
	adjust := func(delta int64, reason string) func(string) error {
		return func(id string) error {
			return f.app.Commands.AdjustStock.Handle(ctx, app.AdjustStock{RequestID: f.cause().ID, ProductID: id, Delta: delta, Reason: reason})
		}
	}
	cases := []struct {
		name    string
		product string
		do      func(string) error
		want    error
	}{
		{"set unknown product", "nope", set(1), domain.ErrUnknownProduct},
		{"adjust unknown product", "nope", adjust(1, "restock"), domain.ErrUnknownProduct},
		{"set below zero", "mug", set(-1), domain.ErrTooMuch},
		{"set absurd", "mug", set(domain.MaxOnHand + 1), domain.ErrTooMuch},
		{"set below reserved", "mug", set(3), domain.ErrBelowReserved},
		{"set unchanged", "mug", set(10), domain.ErrNoChange},
		{"adjust by nothing", "mug", adjust(0, "x"), domain.ErrNoChange},
		{"adjust absurd", "mug", adjust(2_000_000_000, "x"), domain.ErrTooMuch},
		{"write off below reserved", "mug", adjust(-7, "broken"), domain.ErrBelowReserved},
		{"reason on two lines", "mug", adjust(1, "a\nb"), domain.ErrBadReason},
	}
	for _, c := range cases {
		if err := c.do(c.product); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	f.expectStock("mug", 10, 4)
	if err := adjust(-6, "broken")("mug"); err != nil {
		t.Fatal(err)
	}
	f.expectStock("mug", 4, 4)
	if err := set(12)("mug"); err != nil {
		t.Fatal(err)
	}
	f.expectStock("mug", 12, 4)
}

// A product that is not in the catalog has no stock to read.
func TestGetStockOfAnUnknownProduct(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.app.Queries.Get.Handle(meshtest.Context(t), app.GetStock{ProductID: "nope"}); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("stock of an unknown product: %v, want app.ErrNotFound", err)
	}
	f.product("mug") // exists, never counted
	f.expectStock("mug", 0, 0)
}

// A reservation holds stock until it is released or committed, and
// deciding any of them again changes nothing.
func TestReserveReleaseCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.stocked("mug", 10)
	f.stocked("pot", 2)
	ctx := meshtest.Context(t)
	reserve := func(orderID string, lines ...events.Line) {
		t.Helper()
		if err := f.app.Commands.Reserve.Handle(ctx, app.Reserve{Cause: f.cause(), OrderID: orderID, Lines: lines}); err != nil {
			t.Fatal(err)
		}
	}
	reserve("o1", events.Line{ProductID: "mug", Quantity: 3})
	reserve("o1", events.Line{ProductID: "mug", Quantity: 3}) // again: nothing more held
	f.expectReservation("o1", domain.StatusReserved)
	f.expectStock("mug", 10, 3)

	reserve("o2", events.Line{ProductID: "mug", Quantity: 1}, events.Line{ProductID: "pot", Quantity: 3})
	f.expectReservation("o2", domain.StatusRejected) // not enough pots: no mug held either
	f.expectStock("mug", 10, 3)

	for range 2 {
		if err := f.app.Commands.Release.Handle(ctx, app.Release{Cause: f.cause(), OrderID: "o1", Reason: "order cancelled"}); err != nil {
			t.Fatal(err)
		}
	}
	f.expectReservation("o1", domain.StatusReleased)
	f.expectStock("mug", 10, 0)

	reserve("o3", events.Line{ProductID: "mug", Quantity: 2}, events.Line{ProductID: "pot", Quantity: 2})
	for range 2 {
		if err := f.app.Commands.Commit.Handle(ctx, app.Commit{Cause: f.cause(), OrderID: "o3"}); err != nil {
			t.Fatal(err)
		}
	}
	f.expectReservation("o3", domain.StatusCommitted)
	f.expectStock("mug", 8, 0)
	f.expectStock("pot", 0, 0)
	if err := f.app.Commands.Release.Handle(ctx, app.Release{Cause: f.cause(), OrderID: "o3", Reason: "too late"}); err != nil {
		t.Fatal(err)
	}
	f.expectStock("mug", 8, 0) // a committed order gives nothing back
}

func envelope(t *testing.T, id string, ev events.Event) mesh.Envelope {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return mesh.Envelope{ID: id, Type: ev.EventType(), Subject: ev.EventSubject(), Data: data}
}

// A confirmation (or a paid order's cancel) that finds no reservation is
// ahead of the state it follows: the reaction says "not yet", to be tried
// again, rather than failing or doing nothing.
func TestCommitAheadOfItsReservationIsNotYet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.stocked("mug", 10)
	ctx := meshtest.Context(t)
	for _, ev := range []events.Event{events.OrderConfirmed{OrderID: "o1"}, events.OrderCancelled{OrderID: "o1", WasConfirmed: true}} {
		err := f.app.OnOrder(ctx, envelope(t, "ev-"+ev.EventType(), ev))
		if !mesh.IsNotYet(err) || !errors.Is(err, domain.ErrNotYet) {
			t.Fatalf("%s before the reservation: %v, want not yet", ev.EventType(), err)
		}
	}
	placed := events.OrderPlaced{OrderID: "o1", CustomerID: "alice", Items: []events.OrderItem{{ProductID: "mug", Name: "mug", Quantity: 2}}}
	if err := f.app.OnOrder(ctx, envelope(t, "ev-placed", placed)); err != nil {
		t.Fatal(err)
	}
	if err := f.app.OnOrder(ctx, envelope(t, "ev-confirmed", events.OrderConfirmed{OrderID: "o1"})); err != nil {
		t.Fatal(err)
	}
	f.expectReservation("o1", domain.StatusCommitted)
	// Read from the state: a reaction's command does not wait for the
	// read model.
	snap, err := f.state.Read("", "mug")
	if err != nil {
		t.Fatal(err)
	}
	if s := snap.Shelf.Stock["mug"]; s.OnHand != 8 || s.Reserved != 0 {
		t.Fatalf("stock of mug is %+v, want 8 on hand and none reserved", s)
	}
}

// An event that does not decode fails, and is not taken for one ahead of
// its state.
func TestMalformedOrderEventIsPermanent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := mesh.Envelope{ID: "ev-bad", Type: events.OrderConfirmed{}.EventType(), Subject: "orders.order.o1.confirmed", Data: []byte("{")}
	if err := f.app.OnOrder(meshtest.Context(t), bad); err == nil || mesh.IsNotYet(err) {
		t.Fatalf("malformed event: %v, want a permanent error", err)
	}
}
