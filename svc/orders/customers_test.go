package orders_test

import (
	"net/http"
	"testing"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// Customers place, read, list, follow and cancel their own orders only;
// without a token nothing about orders is served. (That payments are the
// admin's only is checked in cmd/shopmesh, where payments run.)
func TestCustomersSeeAndCancelOnlyTheirOwnOrders(t *testing.T) {
	t.Parallel()
	s := start(t) // no inventory answers: orders stay open while the test looks
	mug := s.product("MUG", 100)
	alice, bob := s.customer("alice"), s.customer("bob")
	body := func(customer string) map[string]any {
		b := orderBody(customer, "tok_visa", line{mug, 1})
		if customer == "" {
			delete(b, "customerId")
		}
		return b
	}

	var mine struct{ ID, CustomerID string }
	alice.Do(http.MethodPost, "/orders", body(""), nil).Expect(http.StatusAccepted).Decode(&mine)
	if mine.CustomerID != "alice" {
		t.Fatalf("order placed with alice's token is %q's", mine.CustomerID)
	}
	alice.Do(http.MethodPost, "/orders", body("bob"), nil).Problem(http.StatusForbidden)
	alice.Do(http.MethodGet, "/orders/"+mine.ID, nil, nil).Expect(http.StatusOK)
	alice.Do(http.MethodGet, "/orders/"+mine.ID+"/timeline", nil, nil).Expect(http.StatusOK)

	for _, path := range []string{"/orders/" + mine.ID, "/orders/" + mine.ID + "/timeline"} {
		bob.Do(http.MethodGet, path, nil, nil).Problem(http.StatusNotFound)
	}
	bob.Do(http.MethodPost, "/orders/"+mine.ID+"/cancel", nil, nil).Problem(http.StatusNotFound)
	bob.Do(http.MethodGet, "/orders?customerId=alice", nil, nil).Problem(http.StatusForbidden)
	var page struct{ Items []struct{ ID string } }
	bob.Do(http.MethodGet, "/orders", nil, nil).Expect(http.StatusOK).Decode(&page)
	if len(page.Items) != 0 {
		t.Fatalf("bob lists %d orders of others", len(page.Items))
	}
	bob.Do(http.MethodPost, "/orders/customer-tokens", map[string]any{"customerId": "bob"}, nil).Problem(http.StatusUnauthorized)

	anonymous := meshtest.NewClient(t, s.http.URL)
	for _, path := range []string{"/orders", "/orders/" + mine.ID, "/orders/changes"} {
		anonymous.Do(http.MethodGet, path, nil, nil).Problem(http.StatusUnauthorized)
	}
	anonymous.Do(http.MethodPost, "/orders", body("alice"), nil).Problem(http.StatusUnauthorized)
	forged := meshtest.NewClient(t, s.http.URL)
	forged.Header = http.Header{"Authorization": {"Bearer smc1.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.AAAA"}}
	forged.Do(http.MethodGet, "/orders/"+mine.ID, nil, nil).Problem(http.StatusUnauthorized)

	alice.Do(http.MethodPost, "/orders/"+mine.ID+"/cancel", nil, nil).Expect(http.StatusOK)
	if o := s.await(mine.ID, ""); o.Status != "cancelled" {
		t.Fatalf("alice's own cancel: %+v", o)
	}
}

// A customer following the stream of changes sees only their own orders,
// whatever filter they ask for.
func TestCustomerFollowsOnlyTheirOwnOrders(t *testing.T) {
	t.Parallel()
	s := start(t)
	mug := s.product("MUG", 100)
	changes := s.watch(s.token("bob"), "customerId=alice")
	s.pay(s.place("alice-1", "tok_visa", line{mug, 1})) // alice's
	var bobs order
	s.http.Do(http.MethodPost, "/orders", orderBody("bob", "tok_visa", line{mug, 1}), nil).Expect(http.StatusAccepted).Decode(&bobs)
	s.pay(bobs.ID) // its changes wait in the channel
	for c := range changes {
		if c.ID != bobs.ID {
			t.Fatalf("bob was sent order %s, not his", c.ID)
		}
		if c.Status == "confirmed" {
			return
		}
	}
}
