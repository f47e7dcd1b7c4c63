package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

var eur = events.Money{Amount: 500, Currency: "EUR"}

func kinds(evs []events.Event) string {
	out := make([]string, len(evs))
	for i, e := range evs {
		parts := strings.Split(e.EventType(), ".")
		out[i] = parts[len(parts)-2]
	}
	return strings.Join(out, " ")
}

func at(status string) Payment {
	return Payment{ID: IDFor("o1"), OrderID: "o1", Status: status, Amount: eur}
}

func TestSettle(t *testing.T) {
	t.Parallel()
	ok, no := Charge{Captured: true}, Charge{Reason: "card declined"}
	cases := []struct {
		name string
		p    Payment
		c    Charge
		want string
	}{
		{"captured", Payment{}, ok, "captured"},
		{"declined", Payment{}, no, "declined"},
		{"order ended while charging", at(StatusDeclined), ok, "captured refunded"},
		{"already captured", at(StatusCaptured), ok, ""},
		{"already declined", at(StatusDeclined), no, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := kinds(Settle(c.p, "o1", eur, c.c)); got != c.want {
				t.Fatalf("events %q, want %q", got, c.want)
			}
		})
	}
}

func TestCloseAndRefund(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"close before payment", kinds(Close(Payment{}, "o1", "order cancelled")), "declined"},
		{"close captured", kinds(Close(at(StatusCaptured), "o1", "order expired")), "refunded"},
		{"close refunded", kinds(Close(at(StatusRefunded), "o1", "order cancelled")), ""},
		{"close declined", kinds(Close(at(StatusDeclined), "o1", "order cancelled")), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("events %q, want %q", c.got, c.want)
			}
		})
	}
	if _, err := Refund(at(StatusRefunded), "x"); !errors.Is(err, ErrNotRefundable) {
		t.Fatalf("refund twice: %v", err)
	}
	if _, err := Refund(Payment{}, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refund nothing: %v", err)
	}
	if evs, err := Refund(at(StatusCaptured), "x"); err != nil || evs[0].(events.PaymentRefunded).Amount != eur {
		t.Fatalf("refund captured: %v %v", evs, err)
	}
}

func TestEvolve(t *testing.T) {
	t.Parallel()
	p := Evolve(Payment{}, events.PaymentCaptured{PaymentID: "pay_o1", OrderID: "o1", Amount: eur}, time.Unix(1, 0))
	p = Evolve(p, events.PaymentRefunded{PaymentID: "pay_o1", OrderID: "o1", Amount: eur, Reason: "r"}, time.Unix(2, 0))
	if p.Status != StatusRefunded || p.Amount != eur || p.Version != 2 || !p.CreatedAt.Equal(time.Unix(1, 0)) {
		t.Fatalf("payment %+v", p)
	}
}
