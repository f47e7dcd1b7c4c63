package orders_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/orders"
)

// The fuzz tests of the orders service's request bodies: whatever a client
// sends as an order or a token request, it is answered with a success or a
// problem, never a 5xx, and a refusal writes no event. Their seeds are the
// bodies below and the files under testdata/fuzz; .ci/run fuzzes each for
// a bounded time (task fuzz).

// fuzzing is the orders service running alone for a fuzz target, with a
// catalog an earlier products service wrote: MUG and GOLD in euros (GOLD
// at the highest price), CUP in dollars, and GONE, deleted.
type fuzzing struct {
	*meshtest.Fuzzing
	alice http.Header // alice's customer token
}

func startFuzzing(f *testing.F) fuzzing {
	n, z := meshtest.FuzzNode(f, events.OrdersStream)
	// The orders stay open for an hour, and admission control never
	// refuses one: a 503 would then be a fault, not the documented answer
	// to a shop with more open orders than it can end in time.
	meshtest.Start(f, n, orders.New(orders.Config{TTL: time.Hour, MaxOpen: 1 << 30}))
	product := func(id, currency string, amount int64) events.ProductCreated {
		return events.ProductCreated{ProductID: id, ProductFields: events.ProductFields{
			SKU: id, Name: "Product " + id, Price: events.Money{Amount: amount, Currency: currency}}}
	}
	meshtest.Publish(f, n.JS, events.ProductsService, product("MUG", "EUR", 1299), product("GOLD", "EUR", 1_000_000_000_000),
		product("CUP", "USD", 500), product("GONE", "EUR", 100), events.ProductDeleted{ProductID: "GONE"})
	token, _ := n.HTTP.CustomerTokens().Issue("alice", 24*time.Hour, time.Now())
	return fuzzing{
		Fuzzing: z,
		alice:   http.Header{"Authorization": {"Bearer " + token}},
	}
}

// orderBodies are valid and nearly valid orders, as seeds.
var orderBodies = []string{
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":2}],"paymentToken":"tok_visa"}`,
	`{"items":[{"productId":"MUG","quantity":1},{"productId":"GOLD","quantity":1000}],"paymentToken":"tok_chargeDeclined"}`,
	`{"customerId":"bob","items":[{"productId":"CUP","quantity":1}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":1},{"productId":"CUP","quantity":1}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":1},{"productId":"MUG","quantity":2}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"GONE","quantity":1}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"NOPE","quantity":1}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":0}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":1001}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":1.5}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":1}],"paymentToken":"visa"}`,
	`{"customerId":"al ice","items":[{"productId":"MUG","quantity":1}],"paymentToken":"tok_visa"}`,
	`{"customerId":"","items":[{"productId":"MUG","quantity":1}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":[{"productId":"MUG","quantity":1}],"paymentToken":"tok_visa","coupon":"X"}`,
	`{"customerId":"alice","items":[{"productId":"../MUG","quantity":1}],"paymentToken":"tok_visa"}`,
	`{"customerId":"alice","items":null,"paymentToken":"tok_visa"}`,
	`{}`, `[]`, `null`, ``, `{"items":[{`,
}

// An order is accepted with 202, or refused, with the Idempotency-Key
// fuzzed too, placed by the admin for anyone or by alice for herself.
func FuzzPlaceOrder(f *testing.F) {
	z := startFuzzing(f)
	z.Do(f, http.MethodPost, "/orders", []byte(orderBodies[0]), meshtest.Admin()).Expect(http.StatusAccepted)
	for _, b := range orderBodies {
		f.Add("", true, []byte(b))
		f.Add("", false, []byte(b))
	}
	f.Add("key-1", true, []byte(orderBodies[0]))
	f.Add("key-1", true, []byte(orderBodies[2])) // the same key for another order
	f.Add("key-1", false, []byte(orderBodies[0]))
	f.Fuzz(func(t *testing.T, key string, admin bool, body []byte) {
		if !meshtest.HeaderValue(key) {
			t.Skip("not a header a client can send")
		}
		h := z.alice.Clone()
		if admin {
			h = meshtest.Admin()
		}
		h.Set("Idempotency-Key", key)
		if r := z.Send(t, http.MethodPost, "/orders", body, h); r.Status < 300 && r.Status != http.StatusAccepted {
			t.Fatalf("placed with %d", r.Status)
		}
	})
}

// A token the service issues is one it accepts: the customer it names can
// list their orders with it, and it expires within the bounds of
// ttlSeconds, a minute to 30 days.
func FuzzIssueCustomerToken(f *testing.F) {
	z := startFuzzing(f)
	for _, b := range []string{
		`{"customerId":"alice","ttlSeconds":86400}`, `{"customerId":"bob@example.com"}`, `{"customerId":"a.b_c-d","ttlSeconds":60}`,
		`{"customerId":"alice","ttlSeconds":59}`, `{"customerId":"alice","ttlSeconds":2592001}`, `{"customerId":"alice","ttlSeconds":0}`,
		`{"customerId":"alice","ttlSeconds":1.5}`, `{"customerId":""}`, `{"customerId":"al ice"}`, `{"customerId":"alice\n"}`,
		`{"customerId":"ålice"}`, `{"customerId":7}`, `{"customerId":"alice","extra":1}`,
		`{}`, `[]`, `null`, ``, `{"customerId":`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := time.Now()
		r := z.Send(t, http.MethodPost, "/orders/customer-tokens", body, meshtest.Admin())
		after := time.Now()
		if r.Status >= 300 {
			return
		}
		var tok struct {
			Token     string
			ExpiresAt time.Time
		}
		r.Expect(http.StatusOK).Decode(&tok)
		if tok.ExpiresAt.Before(before.Add(time.Minute).Truncate(time.Second)) || tok.ExpiresAt.After(after.Add(30*24*time.Hour)) {
			t.Fatalf("a token issued at %s expires at %s", before.Format(time.RFC3339), tok.ExpiresAt.Format(time.RFC3339))
		}
		auth := http.Header{"Authorization": {"Bearer " + tok.Token}}
		z.Do(t, http.MethodGet, "/orders?limit=1", nil, auth).Expect(http.StatusOK)
	})
}
