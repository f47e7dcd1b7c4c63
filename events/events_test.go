package events_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/subject"
)

// idOf names the field that holds each entity's id: a product for
// products and stock, an order otherwise.
var idOf = map[string]string{"product": "P1", "stock": "P1", "reservation": "O1", "order": "O1", "payment": "O1"}

// filterOf is each entity's filter as package events declares it.
var filterOf = map[string]func(id string) string{
	"product":     func(id string) string { return events.EntityFilter(events.ProductsService, "product", id) },
	"stock":       events.StockFilter,
	"reservation": events.ReservationFilter,
	"order":       events.OrderFilter,
	"payment":     events.PaymentFilter,
}

// Every registered event, given an id, has the subject its type names
// (shopmesh.<service>.<entity>.<event>.v1 is on <service>.<entity>.<id>.<event>),
// and the grammar mesh reads subjects with finds that entity and id in it:
// what events writes and what mesh reads agree.
func TestEverySubjectReadsBack(t *testing.T) {
	t.Parallel()
	body := []byte(`{"productId":"P1","orderId":"O1"}`)
	for _, zero := range events.All() {
		name := strings.Split(strings.TrimSuffix(strings.TrimPrefix(zero.EventType(), "shopmesh."), ".v1"), ".")
		if len(name) != 3 {
			t.Fatalf("%s: a type of %d parts", zero.EventType(), len(name))
		}
		service, entity, event := name[0], name[1], name[2]
		id := idOf[entity]
		e, err := events.Decode(zero.EventType(), body)
		if err != nil || e == nil || id == "" {
			t.Fatalf("%s: decoded %v, %v; id %q", zero.EventType(), e, err, id)
		}
		s := e.EventSubject()
		want := strings.Join([]string{service, entity, id, event}, ".")
		if s != want {
			t.Errorf("%s is on %q, want %q", zero.EventType(), s, want)
		}
		if got := subject.Entity(s); got != strings.Join([]string{service, entity, id}, ".") {
			t.Errorf("%s: entity %q", s, got)
		}
		if subject.ID(s) != id || events.IDOf(s) != id || subject.Service(s) != service {
			t.Errorf("%s: id %q (IDOf %q), service %q", s, subject.ID(s), events.IDOf(s), subject.Service(s))
		}
		if got, want := subject.EntityFilter(s), filterOf[entity](id); got != want {
			t.Errorf("%s: mesh guards %q, events declares %q", s, got, want)
		}
		if got := events.Pattern(zero); got != strings.Join([]string{service, entity, "*", event}, ".") {
			t.Errorf("%s: pattern %q", zero.EventType(), got)
		}
	}
}

// Every registered event's service has its stream in events.Streams, once:
// what follows the whole mesh (the order timeline) reads that list, so a
// stream left out of it would leave its events out in silence.
func TestEveryServiceHasItsStreamInStreams(t *testing.T) {
	t.Parallel()
	owner := map[string]string{}
	for _, s := range events.Streams {
		if len(s.Subjects) != 1 || !strings.HasSuffix(s.Subjects[0], ".>") || owner[s.Subjects[0]] != "" {
			t.Fatalf("stream %s: subjects %q, want one service's, once", s.Name, s.Subjects)
		}
		owner[s.Subjects[0]] = s.Name
	}
	for _, zero := range events.All() {
		service := strings.Split(zero.EventType(), ".")[1]
		if owner[service+".>"] == "" {
			t.Errorf("%s: no stream of events.Streams holds %s.>", zero.EventType(), service)
		}
	}
}

// The registry lists each type once, and decodes each to its own type.
func TestRegistryListsEachTypeOnce(t *testing.T) {
	t.Parallel()
	var types []string
	for _, zero := range events.All() {
		types = append(types, zero.EventType())
		e, err := events.Decode(zero.EventType(), []byte(`{}`))
		if err != nil || e == nil || e.EventType() != zero.EventType() {
			t.Errorf("%s decodes to %v, %v", zero.EventType(), e, err)
		}
	}
	if !slices.IsSorted(types) || len(slices.Compact(slices.Clone(types))) != len(types) {
		t.Fatalf("types not sorted and unique: %v", types)
	}
}

// A type this version does not know is skipped, not an error; a body its
// type cannot hold is one.
func TestDecodeIsTolerantOfUnknownTypes(t *testing.T) {
	t.Parallel()
	if e, err := events.Decode("shopmesh.nothing.v1", []byte(`{"x":1}`)); e != nil || err != nil {
		t.Fatalf("unknown type decoded to %v, %v", e, err)
	}
	if _, err := events.Decode(events.OrderPlaced{}.EventType(), []byte(`{"orderId":7}`)); err == nil {
		t.Fatal("a malformed body decoded")
	}
}

func TestPatternsFollowTheEvents(t *testing.T) {
	t.Parallel()
	got := events.Patterns(events.ReservationAccepted{}, events.PaymentRefunded{}, events.OrderStockReserved{})
	want := []string{"inventory.reservation.*.accepted", "payments.payment.*.refunded", "orders.order.*.stock_reserved"}
	if !slices.Equal(got, want) {
		t.Fatalf("Patterns() = %v, want %v", got, want)
	}
	if got := events.DeadlineSubject(subject.Any); got != "orders.deadline.*" {
		t.Fatalf("DeadlineSubject(*) = %q", got)
	}
	if got := events.IDOf(events.DeadlineSubject("O1")); got != "O1" {
		t.Fatalf("IDOf(a fired deadline) = %q", got)
	}
}
