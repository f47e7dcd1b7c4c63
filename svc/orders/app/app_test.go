package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/svc/orders/app"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
)

// The use cases run here on fakes of their ports: orders and a catalog in
// maps, a writer that applies what it is given at once, timers and
// admission that note what they were asked. What the real writer adds
// (retries after a lost race, catching up, waiting for the projection) is
// tested in mesh; the service on JetStream in svc/orders.

// book is the orders' state and the writer of their events: a decision
// reads it, and what the decision writes is applied to it at once, as the
// real writer returns once its projection has applied the events.
type book struct {
	orders  map[string]domain.Order
	catalog map[string]domain.CatalogEntry
	written []events.Event
	writes  int // decisions that reached the writer
}

func (b *book) Read(orderID string, productIDs ...string) (app.Snapshot, error) {
	snap := app.Snapshot{Order: b.orders[orderID], Catalog: map[string]domain.CatalogEntry{}}
	for _, id := range productIDs {
		if c, ok := b.catalog[id]; ok {
			snap.Catalog[id] = c
		}
	}
	return snap, nil
}

func (b *book) Write(_ context.Context, _ mesh.Cause, decide mesh.Decision) (uint64, error) {
	b.writes++
	out, err := decide()
	if err != nil {
		return 0, err
	}
	for _, o := range out {
		b.record(o.Event)
	}
	return uint64(len(b.written)), nil
}

// record applies an event to the state, as the projection would: one the
// use case wrote, or one another replica did.
func (b *book) record(e events.Event) {
	id := events.IDOf(e.EventSubject())
	b.orders[id] = domain.Evolve(b.orders[id], e, time.Now())
	b.written = append(b.written, e)
}

// timers notes the deadlines scheduled; fail makes Schedule fail.
type timers struct {
	at   map[string]time.Time
	fail error
}

func (t *timers) Schedule(_ context.Context, orderID string, at time.Time) error {
	if t.fail != nil {
		return t.fail
	}
	t.at[orderID] = at
	return nil
}

// admission refuses new orders while busy is set.
type admission struct{ busy *mesh.Busy }

func (a *admission) Admit() error {
	if a.busy != nil {
		return a.busy
	}
	return nil
}

// fixture is the application on its fakes, at a clock the test moves.
type fixture struct {
	app       app.Application
	book      *book
	timers    *timers
	admission *admission
	now       time.Time
}

const ttl = 15 * time.Minute

func newFixture() *fixture {
	f := &fixture{
		book: &book{orders: map[string]domain.Order{}, catalog: map[string]domain.CatalogEntry{
			"mug": {Name: "Mug", Price: events.Money{Amount: 450, Currency: "EUR"}},
			"old": {Name: "Old", Price: events.Money{Amount: 100, Currency: "EUR"}, Deleted: true},
		}},
		timers: &timers{at: map[string]time.Time{}}, admission: &admission{},
		now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
	}
	f.app = app.New(app.Deps{
		Orders: f.book, Writer: f.book, Timers: f.timers, Admission: f.admission,
		TTL: ttl, Now: func() time.Time { return f.now },
	}, observe.Observer{Log: zerolog.Nop()})
	return f
}

func placeOrder(id string) app.PlaceOrder {
	return app.PlaceOrder{
		RequestID: "place/" + id, OrderID: id, CustomerID: "alice", PaymentToken: "tok_visa", RequestHash: "h1",
		Lines: []domain.Line{{ProductID: "mug", Quantity: 2}},
	}
}

var total = events.Money{Amount: 900, Currency: "EUR"}

// placed puts an order in the book as if it had been placed, pending.
func (f *fixture) placed(id string) {
	f.book.record(events.OrderPlaced{OrderID: id, CustomerID: "alice", Total: total, PaymentToken: "tok_visa",
		ExpiresAt: f.now.Add(ttl), RequestHash: "h1"})
}

// expectWritten checks the events written since the test began.
func (f *fixture) expectWritten(t *testing.T, want ...string) {
	t.Helper()
	if len(f.book.written) != len(want) {
		t.Fatalf("written %+v, want %v", f.book.written, want)
	}
	for i, e := range f.book.written {
		if e.EventSubject() != want[i] {
			t.Fatalf("event %d is %s, want %s", i, e.EventSubject(), want[i])
		}
	}
}

func (f *fixture) status(id string) string { return f.book.orders[id].Status }

// envelope is an event as a reaction receives it.
func envelope(t *testing.T, e events.Event) mesh.Envelope {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return mesh.Envelope{ID: "evt-" + e.EventSubject(), Type: e.EventType(), Subject: e.EventSubject(), Data: data}
}

func TestPlaceRecordsTheOrderAfterItsDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture()
	if err := f.app.Commands.Place.Handle(context.Background(), placeOrder("o1")); err != nil {
		t.Fatal(err)
	}
	f.expectWritten(t, "orders.order.o1.placed")
	placed := f.book.written[0].(events.OrderPlaced)
	if placed.Total != total || placed.Items[0].Name != "Mug" || !placed.ExpiresAt.Equal(f.now.Add(ttl)) {
		t.Fatalf("placed %+v, want 2 mugs for 900 EUR expiring after the TTL", placed)
	}
	if at := f.timers.at["o1"]; !at.Equal(placed.ExpiresAt) {
		t.Fatalf("deadline scheduled at %v, want %v", at, placed.ExpiresAt)
	}
}

func TestInvalidOrdersChangeNothing(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*app.PlaceOrder){
		"no customer":       func(c *app.PlaceOrder) { c.CustomerID = "" },
		"bad token":         func(c *app.PlaceOrder) { c.PaymentToken = "visa" },
		"no lines":          func(c *app.PlaceOrder) { c.Lines = nil },
		"zero quantity":     func(c *app.PlaceOrder) { c.Lines[0].Quantity = 0 },
		"unknown product":   func(c *app.PlaceOrder) { c.Lines[0].ProductID = "nope" },
		"deleted product":   func(c *app.PlaceOrder) { c.Lines[0].ProductID = "old" },
		"a product twice":   func(c *app.PlaceOrder) { c.Lines = append(c.Lines, c.Lines[0]) },
		"absurd quantity":   func(c *app.PlaceOrder) { c.Lines[0].Quantity = 1_000_000 },
		"too many lines":    func(c *app.PlaceOrder) { c.Lines = make([]domain.Line, domain.MaxLines+1) },
		"negative quantity": func(c *app.PlaceOrder) { c.Lines[0].Quantity = -3 },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			cmd := placeOrder("o1")
			spoil(&cmd)
			var field *domain.FieldError
			if err := f.app.Commands.Place.Handle(context.Background(), cmd); !errors.As(err, &field) {
				t.Fatalf("placing it: %v, want a field error", err)
			}
			f.expectWritten(t)
			if len(f.timers.at) != 0 {
				t.Fatalf("deadlines scheduled for an invalid order: %v", f.timers.at)
			}
		})
	}
}

func TestPlaceRetriedIsOneOrder(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	for range 3 {
		if err := f.app.Commands.Place.Handle(ctx, placeOrder("o1")); err != nil {
			t.Fatal(err)
		}
	}
	f.expectWritten(t, "orders.order.o1.placed")

	other := placeOrder("o1")
	other.RequestHash = "h2" // the same key, another body
	if err := f.app.Commands.Place.Handle(ctx, other); !errors.Is(err, domain.ErrIdempotencyMismatch) {
		t.Fatalf("same id, other body: %v, want %v", err, domain.ErrIdempotencyMismatch)
	}
	f.expectWritten(t, "orders.order.o1.placed")
}

func TestPlaceRefusedWhileBusyChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture()
	f.admission.busy = &mesh.Busy{Open: 3, Limit: 3, RetryAfter: time.Second}
	var busy *mesh.Busy
	if err := f.app.Commands.Place.Handle(context.Background(), placeOrder("o1")); !errors.As(err, &busy) {
		t.Fatalf("placing while busy: %v, want *mesh.Busy", err)
	}
	f.expectWritten(t)
	if len(f.timers.at) != 0 {
		t.Fatal("a refused order got a deadline")
	}

	// A retry of an order placed before is not a new order: it is not refused.
	f.admission.busy = nil
	if err := f.app.Commands.Place.Handle(context.Background(), placeOrder("o1")); err != nil {
		t.Fatal(err)
	}
	f.admission.busy = &mesh.Busy{Open: 3, Limit: 3}
	if err := f.app.Commands.Place.Handle(context.Background(), placeOrder("o1")); err != nil {
		t.Fatalf("retry of a placed order while busy: %v", err)
	}
}

// The deadline is scheduled before the order is recorded: no order without
// one.
func TestPlaceWithoutItsDeadlineRecordsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture()
	f.timers.fail = errors.New("timers unavailable")
	if err := f.app.Commands.Place.Handle(context.Background(), placeOrder("o1")); !errors.Is(err, f.timers.fail) {
		t.Fatalf("placing without timers: %v", err)
	}
	f.expectWritten(t)
}

func TestCancelRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cancel := func(f *fixture, id string) error {
		return f.app.Commands.Cancel.Handle(ctx, app.CancelOrder{RequestID: "r", OrderID: id, Reason: "changed my mind"})
	}
	t.Run("open", func(t *testing.T) {
		f := newFixture()
		f.placed("o1")
		if err := cancel(f, "o1"); err != nil {
			t.Fatal(err)
		}
		if c := f.book.written[1].(events.OrderCancelled); c.WasConfirmed || c.Reason != "changed my mind" {
			t.Fatalf("cancelled %+v", c)
		}
	})
	t.Run("confirmed, which is refunded", func(t *testing.T) {
		f := newFixture()
		f.placed("o1")
		f.book.record(events.OrderStockReserved{OrderID: "o1", Total: total})
		f.book.record(events.OrderConfirmed{OrderID: "o1", PaymentID: "pay"})
		if err := cancel(f, "o1"); err != nil {
			t.Fatal(err)
		}
		if c := f.book.written[3].(events.OrderCancelled); !c.WasConfirmed {
			t.Fatalf("cancelled %+v, want it marked confirmed", c)
		}
	})
	t.Run("ended", func(t *testing.T) {
		f := newFixture()
		f.placed("o1")
		f.book.record(events.OrderRejected{OrderID: "o1", Reason: "out of stock"})
		if err := cancel(f, "o1"); !errors.Is(err, domain.ErrNotCancellable) {
			t.Fatalf("cancelling an ended order: %v", err)
		}
		f.expectWritten(t, "orders.order.o1.placed", "orders.order.o1.rejected")
	})
	t.Run("unknown", func(t *testing.T) {
		f := newFixture()
		if err := cancel(f, "nope"); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("cancelling an unknown order: %v", err)
		}
	})
}

func TestInventorysAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	accepted := envelope(t, events.ReservationAccepted{OrderID: "o1"})
	if err := f.app.OnInventory(ctx, accepted); !mesh.IsNotYet(err) {
		t.Fatalf("an acceptance ahead of its order: %v, want NotYet", err)
	}
	f.placed("o1")
	if err := f.app.OnInventory(ctx, accepted); err != nil {
		t.Fatal(err)
	}
	if f.status("o1") != domain.StatusAwaitingPayment {
		t.Fatalf("accepted order is %s", f.status("o1"))
	}
	if err := f.app.OnInventory(ctx, accepted); err != nil { // redelivered
		t.Fatal(err)
	}
	f.expectWritten(t, "orders.order.o1.placed", "orders.order.o1.stock_reserved")

	f.placed("o2")
	rejected := envelope(t, events.ReservationRejected{OrderID: "o2", Reason: "out of stock",
		Shortages: []events.Shortage{{ProductID: "mug"}}})
	if err := f.app.OnInventory(ctx, rejected); err != nil {
		t.Fatal(err)
	}
	if r := f.book.written[3].(events.OrderRejected); r.Reason != "out of stock" || len(r.Products) != 1 || r.Products[0] != "mug" {
		t.Fatalf("rejected %+v", r)
	}
	if err := f.app.OnInventory(ctx, mesh.Envelope{Type: accepted.Type, Data: []byte("{")}); !mesh.IsPermanent(err) {
		t.Fatalf("a malformed event: %v, want Permanent", err)
	}
}

func TestCaptureConfirmsOnlyAReservedOrderOfItsTotal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	f.placed("o1")
	captured := envelope(t, events.PaymentCaptured{PaymentID: "pay", OrderID: "o1", Amount: total})
	if err := f.app.OnPayment(ctx, captured); !mesh.IsNotYet(err) {
		t.Fatalf("a capture ahead of the reservation: %v, want NotYet", err)
	}
	f.book.record(events.OrderStockReserved{OrderID: "o1", Total: total})
	short := envelope(t, events.PaymentCaptured{PaymentID: "pay", OrderID: "o1", Amount: events.Money{Amount: 1, Currency: "EUR"}})
	if err := f.app.OnPayment(ctx, short); !mesh.IsPermanent(err) || !errors.Is(err, domain.ErrCaptureMismatch) {
		t.Fatalf("a capture of another amount: %v, want a permanent capture mismatch", err)
	}
	unknown := envelope(t, events.PaymentCaptured{PaymentID: "pay", OrderID: "nope", Amount: total})
	if err := f.app.OnPayment(ctx, unknown); !mesh.IsNotYet(err) {
		t.Fatalf("a capture of an order not known yet: %v, want NotYet", err)
	}
	if err := f.app.OnPayment(ctx, captured); err != nil {
		t.Fatal(err)
	}
	if o := f.book.orders["o1"]; o.Status != domain.StatusConfirmed || o.PaymentID != "pay" {
		t.Fatalf("captured order %+v", o)
	}
}

func TestDeclineAndRefundCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	declined := envelope(t, events.PaymentDeclined{PaymentID: "pay", OrderID: "o1", Reason: "card declined"})
	if err := f.app.OnPayment(ctx, declined); !mesh.IsNotYet(err) {
		t.Fatalf("a decline ahead of its order: %v, want NotYet", err)
	}
	f.placed("o1")
	f.book.record(events.OrderStockReserved{OrderID: "o1", Total: total})
	if err := f.app.OnPayment(ctx, declined); err != nil {
		t.Fatal(err)
	}
	if o := f.book.orders["o1"]; o.Status != domain.StatusCancelled || o.Reason != "payment declined: card declined" {
		t.Fatalf("declined order %+v", o)
	}

	f.placed("o2")
	refunded := envelope(t, events.PaymentRefunded{PaymentID: "pay2", OrderID: "o2"})
	if err := f.app.OnPayment(ctx, refunded); !mesh.IsNotYet(err) {
		t.Fatalf("a refund ahead of the confirmation: %v, want NotYet", err)
	}
	f.book.record(events.OrderStockReserved{OrderID: "o2", Total: total})
	f.book.record(events.OrderConfirmed{OrderID: "o2", PaymentID: "pay2"})
	if err := f.app.OnPayment(ctx, refunded); err != nil {
		t.Fatal(err)
	}
	if c, ok := f.book.written[len(f.book.written)-1].(events.OrderCancelled); !ok || !c.WasConfirmed {
		t.Fatalf("refunded order's last event %+v", f.book.written[len(f.book.written)-1])
	}
}

func TestDeadlineExpiresOnlyAnOpenOrderDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture()
	deadline := func(id string) mesh.Envelope { return mesh.Envelope{Subject: events.DeadlineSubject(id)} }
	f.placed("o1")
	if err := f.app.OnDeadline(ctx, deadline("o1")); err != nil {
		t.Fatal(err)
	}
	if f.status("o1") != domain.StatusPending {
		t.Fatal("an order expired before its deadline (a timer of an earlier attempt)")
	}
	f.now = f.now.Add(ttl)
	if err := f.app.OnDeadline(ctx, deadline("o1")); err != nil {
		t.Fatal(err)
	}
	if f.status("o1") != domain.StatusExpired {
		t.Fatalf("order at its deadline is %s", f.status("o1"))
	}

	// An ended order is not decided on again, and a timer whose order was
	// never recorded changes nothing.
	writes := f.book.writes
	if err := f.app.OnDeadline(ctx, deadline("o1")); err != nil || f.book.writes != writes {
		t.Fatalf("deadline of an ended order: %v, %d decisions", err, f.book.writes-writes)
	}
	if err := f.app.OnDeadline(ctx, deadline("ghost")); err != nil {
		t.Fatal(err)
	}
	f.expectWritten(t, "orders.order.o1.placed", "orders.order.o1.expired")
}

// views is the read model: the orders of the book as readers see them, and
// changes a test sends.
type views struct {
	book    *book
	changes chan app.View
}

func (v *views) Get(_ context.Context, id string) (app.View, error) {
	o, ok := v.book.orders[id]
	if !ok {
		return app.View{}, domain.ErrNotFound
	}
	return app.ToView(o), nil
}

func (v *views) List(app.Filter, string, int) (app.Page, error) { return app.Page{}, nil }

// Changes passes on what keep accepts of the test's changes.
func (v *views) Changes(_ context.Context, keep func(app.View) bool) <-chan app.View {
	out := make(chan app.View, cap(v.changes))
	for c := range v.changes {
		if keep(c) {
			out <- c
		}
	}
	close(out)
	return out
}

// timeline counts its reads.
type timeline struct{ reads int }

func (t *timeline) For(context.Context, string) ([]app.Entry, error) {
	t.reads++
	return []app.Entry{{Subject: "orders.order.o1.placed"}}, nil
}

func queries(f *fixture, changes ...app.View) (app.Queries, *timeline) {
	ch := make(chan app.View, len(changes))
	for _, c := range changes {
		ch <- c
	}
	close(ch)
	tl := &timeline{}
	a := app.New(app.Deps{Orders: f.book, Views: &views{book: f.book, changes: ch}, Timeline: tl}, observe.Observer{Log: zerolog.Nop()})
	return a.Queries, tl
}

// The timeline of an order the read model does not hold is not read.
func TestTimelineOfAnUnknownOrderIsNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture()
	f.placed("o1")
	q, tl := queries(f)
	if _, err := q.Timeline.Handle(context.Background(), app.GetTimeline{ID: "nope"}); !errors.Is(err, domain.ErrNotFound) || tl.reads != 0 {
		t.Fatalf("timeline of an unknown order: %v, %d reads", err, tl.reads)
	}
	if got, err := q.Timeline.Handle(context.Background(), app.GetTimeline{ID: "o1"}); err != nil || len(got) != 1 {
		t.Fatalf("timeline of o1: %+v, %v", got, err)
	}
}

func TestWatchKeepsTheOrdersAskedFor(t *testing.T) {
	t.Parallel()
	q, _ := queries(newFixture(),
		app.View{ID: "o1", CustomerID: "alice"}, app.View{ID: "o2", CustomerID: "bob"}, app.View{ID: "o3", CustomerID: "alice"})
	changes, err := q.Watch.Handle(context.Background(), app.WatchOrders{CustomerID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for c := range changes {
		got = append(got, c.ID)
	}
	if strings.Join(got, ",") != "o1,o3" {
		t.Fatalf("alice's changes: %v", got)
	}
}
