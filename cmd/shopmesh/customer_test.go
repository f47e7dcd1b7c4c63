package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// customer returns a client that speaks for one customer, with a token the
// admin had issued.
func (m *mall) customer(id string) *meshtest.Client {
	m.t.Helper()
	var tok struct{ Token string }
	m.http.Do(http.MethodPost, "/orders/customer-tokens", map[string]any{"customerId": id}, nil).Expect(http.StatusOK).Decode(&tok)
	c := meshtest.NewClient(m.t, m.shop.httpURL)
	c.Header = http.Header{"Authorization": {"Bearer " + tok.Token}}
	return c
}

// Customers place, read, list, follow and cancel their own orders only;
// without a token nothing about orders is served, and payments only to
// the admin.
func TestCustomersSeeAndCancelOnlyTheirOwnOrders(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	cfg.GatewayLatency = time.Second // keeps orders open while the test looks
	m := openMall(t, cfg)
	mug := m.product("MUG", 100, 10)
	alice, bob := m.customer("alice"), m.customer("bob")
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

	anonymous := meshtest.NewClient(t, m.shop.httpURL)
	for _, path := range []string{"/orders", "/orders/" + mine.ID, "/orders/changes"} {
		anonymous.Do(http.MethodGet, path, nil, nil).Problem(http.StatusUnauthorized)
	}
	anonymous.Do(http.MethodPost, "/orders", body("alice"), nil).Problem(http.StatusUnauthorized)
	// Payments are the back office's: customers follow theirs through the order.
	for _, who := range []*meshtest.Client{anonymous, alice} {
		who.Do(http.MethodGet, "/payments?orderId="+mine.ID, nil, nil).Problem(http.StatusUnauthorized)
		who.Do(http.MethodGet, "/payments/any", nil, nil).Problem(http.StatusUnauthorized)
	}
	forged := meshtest.NewClient(t, m.shop.httpURL)
	forged.Header = http.Header{"Authorization": {"Bearer smc1.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.AAAA"}}
	forged.Do(http.MethodGet, "/orders/"+mine.ID, nil, nil).Problem(http.StatusUnauthorized)

	alice.Do(http.MethodPost, "/orders/"+mine.ID+"/cancel", nil, nil).Expect(http.StatusOK)
	if o := m.awaitTerminal(mine.ID); o.Status != "cancelled" {
		t.Fatalf("alice's own cancel: %+v", o)
	}
}

// A customer following the stream of changes sees only their own orders,
// whatever filter they ask for.
func TestCustomerFollowsOnlyTheirOwnOrders(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 100, 10)
	var tok struct{ Token string }
	m.http.Do(http.MethodPost, "/orders/customer-tokens", map[string]any{"customerId": "bob"}, nil).Expect(http.StatusOK).Decode(&tok)
	changes, err := watchOrders(meshtest.Context(t), http.DefaultClient, m.http.URL, tok.Token, "customerId=alice")
	if err != nil {
		t.Fatal(err)
	}
	m.awaitTerminal(m.place("alice-1", "tok_visa", line{mug, 1})) // alice's
	bobs := m.http.Do(http.MethodPost, "/orders", orderBody("bob", "tok_visa", line{mug, 1}), nil).Expect(http.StatusAccepted)
	var o struct{ ID string }
	bobs.Decode(&o)
	for c := range changes {
		if c.ID != o.ID {
			t.Fatalf("bob was sent order %s, not his", c.ID)
		}
		if c.Status == "confirmed" {
			return
		}
	}
}

// `shopmesh token` signs offline what the shop accepts.
func TestTokenCommandIssuesWhatTheShopAccepts(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	var out strings.Builder
	if err := tokenCommand([]string{"--admin-token", meshtest.AdminToken, "carol"}, &out); err != nil {
		t.Fatal(err)
	}
	carol := meshtest.NewClient(t, m.shop.httpURL)
	carol.Header = http.Header{"Authorization": {"Bearer " + strings.TrimSpace(out.String())}}
	carol.Do(http.MethodGet, "/orders", nil, nil).Expect(http.StatusOK)
	for _, bad := range [][]string{{"carol"}, {"--admin-token", "short", "carol"}, {"--admin-token", meshtest.AdminToken, "no spaces"}} {
		if err := tokenCommand(bad, &out); err == nil {
			t.Errorf("token %v accepted", bad)
		}
	}
}
