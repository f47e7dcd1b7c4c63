package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

var catalog = map[string]CatalogEntry{
	"mug":   {Name: "Mug", Price: events.Money{Amount: 1200, Currency: "EUR"}},
	"pot":   {Name: "Teapot", Price: events.Money{Amount: 3000, Currency: "EUR"}},
	"hat":   {Name: "Hat", Price: events.Money{Amount: 900, Currency: "USD"}},
	"gone":  {Deleted: true},
	"other": {Name: "Other", Price: events.Money{Amount: 1, Currency: "EUR"}},
}

func placement(lines ...Line) Placement {
	return Placement{
		OrderID: "o1", CustomerID: "alice", Lines: lines, PaymentToken: "tok_visa",
		RequestHash: "h1", Now: time.Unix(1000, 0), TTL: 15 * time.Minute,
	}
}

func TestPlace(t *testing.T) {
	t.Parallel()
	placed := Evolve(Order{}, events.OrderPlaced{OrderID: "o1", RequestHash: "h1"}, time.Now())
	cases := []struct {
		name     string
		existing Order
		p        Placement
		field    string
		err      error
	}{
		{"valid", Order{}, placement(Line{"mug", 2}, Line{"pot", 1}), "", nil},
		{"retry", placed, placement(Line{"mug", 2}), "", ErrAlreadyPlaced},
		{"key reused", placed, func() Placement { p := placement(Line{"mug", 2}); p.RequestHash = "h2"; return p }(), "", ErrIdempotencyMismatch},
		{"no lines", Order{}, placement(), "items", nil},
		{"zero quantity", Order{}, placement(Line{"mug", 0}), "items[0].quantity", nil},
		{"huge quantity", Order{}, placement(Line{"mug", MaxQuantity + 1}), "items[0].quantity", nil},
		{"duplicate line", Order{}, placement(Line{"mug", 1}, Line{"mug", 1}), "items[1].productId", nil},
		{"unknown product", Order{}, placement(Line{"nope", 1}), "items[0].productId", nil},
		{"deleted product", Order{}, placement(Line{"gone", 1}), "items[0].productId", nil},
		{"mixed currencies", Order{}, placement(Line{"mug", 1}, Line{"hat", 1}), "items[1].productId", nil},
		{"bad token", Order{}, func() Placement { p := placement(Line{"mug", 1}); p.PaymentToken = "card"; return p }(), "paymentToken", nil},
		{"bad customer", Order{}, func() Placement { p := placement(Line{"mug", 1}); p.CustomerID = " "; return p }(), "customerId", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Place(c.existing, c.p, catalog)
			var fe *FieldError
			switch {
			case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
				t.Fatalf("err = %v, want a field error on %s", err, c.field)
			case c.field == "" && !errors.Is(err, c.err):
				t.Fatalf("err = %v, want %v", err, c.err)
			}
		})
	}
	e, _ := Place(Order{}, placement(Line{"mug", 2}, Line{"pot", 1}), catalog)
	if e.Total.Amount != 5400 || e.Total.Currency != "EUR" || e.Items[1].Name != "Teapot" {
		t.Fatalf("priced %+v", e)
	}
	if !e.ExpiresAt.Equal(time.Unix(1000, 0).Add(15 * time.Minute)) {
		t.Fatalf("expires at %v", e.ExpiresAt)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	at := func(status string) Order {
		return Order{ID: "o1", Status: status, Total: events.Money{Amount: 900, Currency: "EUR"}}
	}
	// decided fails the test on a rule's error: every case here is one
	// the order's state is ready for.
	decided := func(evs []events.Event, err error) []events.Event {
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	paid := events.Money{Amount: 900, Currency: "EUR"}
	cases := []struct {
		name string
		got  []events.Event
		want string // the resulting status, "" for no change
	}{
		{"stock reserved", decided(ReservationAccepted(at(StatusPending), "o1")), StatusAwaitingPayment},
		{"reserved twice", decided(ReservationAccepted(at(StatusAwaitingPayment), "o1")), ""},
		{"out of stock", decided(ReservationRejected(at(StatusPending), "o1", "out of stock", []string{"p"})), StatusRejected},
		{"rejected after cancel", decided(ReservationRejected(at(StatusCancelled), "o1", "x", nil)), ""},
		{"paid", decided(PaymentCaptured(at(StatusAwaitingPayment), "o1", "pay_o1", paid)), StatusConfirmed},
		{"paid after expiry", decided(PaymentCaptured(at(StatusExpired), "o1", "pay_o1", paid)), ""},
		{"declined", decided(PaymentDeclined(at(StatusAwaitingPayment), "o1", "card declined")), StatusCancelled},
		{"declined after cancel", decided(PaymentDeclined(at(StatusCancelled), "o1", "order cancelled before payment")), ""},
		{"refunded", decided(PaymentRefunded(at(StatusConfirmed), "o1")), StatusCancelled},
		{"refunded after cancel", decided(PaymentRefunded(at(StatusCancelled), "o1")), ""},
		{"deadline while pending", Expire(at(StatusPending), time.Now()), StatusExpired},
		{"deadline while awaiting", Expire(at(StatusAwaitingPayment), time.Now()), StatusExpired},
		{"deadline after confirm", Expire(at(StatusConfirmed), time.Now()), ""},
		{"an earlier attempt's deadline", Expire(Order{ID: "o1", Status: StatusPending, ExpiresAt: time.Now().Add(time.Minute)}, time.Now()), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == "" {
				if len(c.got) != 0 {
					t.Fatalf("decided %v, want nothing", c.got)
				}
				return
			}
			if len(c.got) != 1 {
				t.Fatalf("decided %v, want one event", c.got)
			}
			if o := Evolve(Order{ID: "o1"}, c.got[0], time.Now()); o.Status != c.want {
				t.Fatalf("status %s, want %s", o.Status, c.want)
			}
		})
	}
}

// Inventory answers only placed orders and payments only reserved ones, so
// an answer for an order this state does not show at that step is ahead of
// it: the state lags, and the answer must wait for it, never be dropped as
// "nothing to do" (that lost saga steps on a loaded cluster).
func TestAnswersAheadOfTheOrderWaitForIt(t *testing.T) {
	t.Parallel()
	pending := Order{ID: "o1", Status: StatusPending, Total: events.Money{Amount: 900, Currency: "EUR"}}
	awaiting := pending
	awaiting.Status = StatusAwaitingPayment
	cases := []struct {
		name   string
		decide func() ([]events.Event, error)
	}{
		{"accepted, order unknown", func() ([]events.Event, error) { return ReservationAccepted(Order{}, "o1") }},
		{"rejected, order unknown", func() ([]events.Event, error) { return ReservationRejected(Order{}, "o1", "out of stock", nil) }},
		{"captured, order unknown", func() ([]events.Event, error) { return PaymentCaptured(Order{}, "o1", "pay_o1", pending.Total) }},
		{"captured, stock not reserved", func() ([]events.Event, error) { return PaymentCaptured(pending, "o1", "pay_o1", pending.Total) }},
		{"declined, order unknown", func() ([]events.Event, error) { return PaymentDeclined(Order{}, "o1", "card declined") }},
		{"refunded, order unknown", func() ([]events.Event, error) { return PaymentRefunded(Order{}, "o1") }},
		{"refunded, not confirmed", func() ([]events.Event, error) { return PaymentRefunded(awaiting, "o1") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if evs, err := c.decide(); !errors.Is(err, ErrNotYet) || len(evs) != 0 {
				t.Fatalf("decided %v, %v; want ErrNotYet", evs, err)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status    string
		err       error
		confirmed bool
	}{
		{StatusPending, nil, false},
		{StatusAwaitingPayment, nil, false},
		{StatusConfirmed, nil, true},
		{StatusRejected, ErrNotCancellable, false},
		{StatusCancelled, ErrNotCancellable, false},
		{StatusExpired, ErrNotCancellable, false},
		{"", ErrNotFound, false},
	}
	for _, c := range cases {
		t.Run(c.status, func(t *testing.T) {
			evs, err := Cancel(Order{ID: "o1", Status: c.status}, "changed my mind")
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err == nil && evs[0].(events.OrderCancelled).WasConfirmed != c.confirmed {
				t.Fatalf("wasConfirmed wrong for %s", c.status)
			}
		})
	}
}

// A capture is applied only to the order it pays, and only for its total:
// anything else is set aside, never taken as payment.
func TestCaptureMustPayItsOrder(t *testing.T) {
	t.Parallel()
	order := Order{ID: "o1", Status: StatusAwaitingPayment, Total: events.Money{Amount: 900, Currency: "EUR"}}
	cases := []struct {
		name   string
		order  Order
		amount events.Money
	}{
		{"one cent", order, events.Money{Amount: 1, Currency: "EUR"}},
		{"too much", order, events.Money{Amount: 901, Currency: "EUR"}},
		{"another currency", order, events.Money{Amount: 900, Currency: "GBP"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := PaymentCaptured(c.order, "o1", "pay_o1", c.amount)
			if !errors.Is(err, ErrCaptureMismatch) || len(evs) != 0 {
				t.Fatalf("decided %v, %v; want ErrCaptureMismatch", evs, err)
			}
		})
	}
}
