package orders_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/orders"
)

func TestSameIdempotencyKeyMakesOneOrder(t *testing.T) {
	t.Parallel()
	s := start(t)
	mug := s.product("MUG", 100)
	first := s.place("same-key", "tok_visa", line{mug, 1})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if again := s.place("same-key", "tok_visa", line{mug, 1}); again != first {
				t.Errorf("retry made order %s, first was %s", again, first)
			}
		})
	}
	wg.Wait()
	h := http.Header{"Idempotency-Key": {"same-key"}}
	p := s.http.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", line{mug, 2}), h).Problem(http.StatusUnprocessableEntity)
	if !p.Names("header.Idempotency-Key") {
		t.Fatalf("problem does not name the key: %+v", p)
	}
	// The same key from another customer is another order.
	var other order
	s.http.Do(http.MethodPost, "/orders", orderBody("bob", "tok_visa", line{mug, 1}), h).Expect(http.StatusAccepted).Decode(&other)
	if other.ID == first {
		t.Fatal("two customers share an order through one key")
	}
	s.pay(first)
	s.pay(other.ID)
	if n := len(s.events(events.OrdersStream, "orders.order.*.placed")); n != 2 {
		t.Fatalf("%d orders placed, want 2", n)
	}
	s.checkInvariants()
}

func TestBadOrdersChangeNothing(t *testing.T) {
	t.Parallel()
	s := start(t)
	mug := s.product("MUG", 100)
	gone := s.product("GONE", 100)
	s.publish(events.ProductsService, events.ProductDeleted{ProductID: gone})
	cases := []struct {
		name     string
		body     any
		location string
	}{
		{"empty order", orderBody("alice", "tok_visa"), "body.items"},
		{"zero quantity", orderBody("alice", "tok_visa", line{mug, 0}), "body.items[0].quantity"},
		{"negative quantity", orderBody("alice", "tok_visa", line{mug, -3}), "body.items[0].quantity"},
		{"absurd quantity", orderBody("alice", "tok_visa", line{mug, 1_000_000}), "body.items[0].quantity"},
		{"duplicate lines", orderBody("alice", "tok_visa", line{mug, 1}, line{mug, 2}), "body.items[1].productId"},
		{"unknown product", orderBody("alice", "tok_visa", line{"NOPE", 1}), "body.items[0].productId"},
		{"deleted product", orderBody("alice", "tok_visa", line{gone, 1}), "body.items[0].productId"},
		{"no customer", orderBody("", "tok_visa", line{mug, 1}), "body.customerId"},
		{"bad token", orderBody("alice", "visa", line{mug, 1}), "body.paymentToken"},
		{"unknown field", map[string]any{"customerId": "a", "items": []line{{mug, 1}}, "paymentToken": "tok_visa", "coupon": "X"}, "body.coupon"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := s.http.Do(http.MethodPost, "/orders", c.body, nil).Problem(http.StatusUnprocessableEntity)
			if !p.Names(c.location) {
				t.Fatalf("problem does not name %s: %+v", c.location, p)
			}
		})
	}
	if n := len(s.events(events.OrdersStream, "orders.>")); n != 0 {
		t.Fatalf("%d order events after bad input, want none", n)
	}
}

// Orders past what can end in time are refused at once with 503 and
// Retry-After, and accepted again once the backlog has drained.
func TestAdmissionRefusesOrdersThatCouldNotEndInTime(t *testing.T) {
	t.Parallel()
	s := startWith(t, orders.Config{TTL: time.Hour, MaxOpen: 3})
	mug := s.product("MUG", 100)
	var open []string
	for i := range 3 {
		open = append(open, s.place(fmt.Sprint("admitted-", i), "tok_visa", line{mug, 1}))
	}
	r := s.http.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", line{mug, 1}), http.Header{"Idempotency-Key": {"refused"}})
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth order: %d %v %s", r.Status, r.Header, r.Body)
	}
	for _, id := range open {
		s.pay(id)
	}
	var later order
	meshtest.Eventually(t, 10*time.Second, func() error {
		r := s.http.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", line{mug, 1}), http.Header{"Idempotency-Key": {"later"}})
		if r.Status != http.StatusAccepted {
			return fmt.Errorf("still refused: %d", r.Status)
		}
		r.Decode(&later)
		return nil
	})
	s.pay(later.ID)
	s.checkInvariants()
}

func TestOrderQueries(t *testing.T) {
	t.Parallel()
	s := start(t)
	mug := s.product("MUG", 100)
	for i := range 5 {
		h := http.Header{"Idempotency-Key": {fmt.Sprint(i)}}
		customer := "alice"
		if i%2 == 1 {
			customer = "bob"
		}
		var o order
		s.http.Do(http.MethodPost, "/orders", orderBody(customer, "tok_visa", line{mug, 1}), h).Expect(http.StatusAccepted).Decode(&o)
		s.pay(o.ID)
	}
	s.decline(s.place("", "tok_chargeDeclined", line{mug, 1}))

	type page struct {
		Items      []order
		NextCursor string
	}
	var ids []string
	for cursor := ""; ; {
		var p page
		s.http.Do(http.MethodGet, "/orders?customerId=alice&status=confirmed&limit=2&cursor="+cursor, nil, nil).Expect(http.StatusOK).Decode(&p)
		for _, o := range p.Items {
			if o.CustomerID != "alice" || o.Status != "confirmed" {
				t.Fatalf("filter let through %+v", o)
			}
			ids = append(ids, o.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(ids) != 3 {
		t.Fatalf("alice's confirmed orders: %v, want 3", ids)
	}
	s.http.Do(http.MethodGet, "/orders?status=lost", nil, nil).Problem(http.StatusUnprocessableEntity)
	s.http.Do(http.MethodGet, "/orders?cursor=***", nil, nil).Problem(http.StatusBadRequest)
	s.http.Do(http.MethodGet, "/orders/NOPE", nil, nil).Problem(http.StatusNotFound)
	s.http.Do(http.MethodGet, "/orders/NOPE/timeline", nil, nil).Problem(http.StatusNotFound)
	s.checkInvariants()
}

// Twenty clients race one Idempotency-Key with twenty different bodies
// (issue 19, the second finding): exactly one body wins, and every other
// client is told its order was not taken (422, or 409 while the first is
// in flight), never given the winner's order as its own.
func TestOneKeyRacedByDifferentBodiesTakesExactlyOne(t *testing.T) {
	t.Parallel()
	s := start(t)
	mug := s.product("MUG", 100)
	for round := range 5 {
		key := fmt.Sprint("raced-", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := map[int64]order{}
		for quantity := int64(1); quantity <= 20; quantity++ {
			wg.Go(func() {
				r := s.http.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", line{mug, quantity}), http.Header{"Idempotency-Key": {key}})
				switch r.Status {
				case http.StatusAccepted:
					var o order
					r.Decode(&o)
					mu.Lock()
					accepted[quantity] = o
					mu.Unlock()
				case http.StatusUnprocessableEntity, http.StatusConflict:
				default:
					t.Errorf("quantity %d: %d %s", quantity, r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if len(accepted) != 1 {
			t.Fatalf("round %d: %d bodies accepted, want exactly one", round, len(accepted))
		}
		for quantity, o := range accepted {
			if o.Total.Amount != 100*quantity {
				t.Fatalf("round %d: the client of quantity %d was given an order of %d", round, quantity, o.Total.Amount)
			}
		}
	}
}
