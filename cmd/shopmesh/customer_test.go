package main

import (
	"net/http"
	"strings"
	"testing"

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

// Payments are the back office's: customers follow theirs through the
// order, and without a token nothing is served. (What customers may do
// with orders is checked in svc/orders, TestCustomersSeeAndCancelOnlyTheirOwnOrders.)
func TestPaymentsAreTheAdminsOnly(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 100, 10)
	alice := m.customer("alice")
	var mine struct{ ID string }
	alice.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", line{mug, 1}), nil).Expect(http.StatusAccepted).Decode(&mine)
	anonymous := meshtest.NewClient(t, m.shop.httpURL)
	for _, who := range []*meshtest.Client{anonymous, alice} {
		who.Do(http.MethodGet, "/payments?orderId="+mine.ID, nil, nil).Problem(http.StatusUnauthorized)
		who.Do(http.MethodGet, "/payments/any", nil, nil).Problem(http.StatusUnauthorized)
	}
	m.awaitTerminal(mine.ID)
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
