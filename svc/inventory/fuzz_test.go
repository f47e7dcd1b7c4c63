package inventory_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/inventory"
)

// The fuzz tests of inventory's request bodies: whatever an admin's client
// sends as a count or an adjustment, inventory answers with a success or a
// problem, never a 5xx, and a refusal writes no event. Their seeds are the
// bodies below and the files under testdata/fuzz; .ci/run fuzzes each for
// a bounded time (task fuzz).

// fuzzMug is the product the fuzz targets count: 10 on hand, 5 of them
// held for an order, so that a count below 5 is a conflict.
const fuzzMug = "MUG"

// startFuzzing starts inventory once for every input of a fuzz target, and
// waits for the order's reservation: an event written while an input is
// sent would look like that input's.
func startFuzzing(f *testing.F) *meshtest.Fuzzing {
	n, z := meshtest.FuzzNode(f, events.InventoryStream)
	meshtest.Start(f, n, inventory.New())
	price := events.Money{Amount: 900, Currency: "EUR"}
	meshtest.Publish(f, n.JS, events.ProductsService, events.ProductCreated{ProductID: fuzzMug, ProductFields: events.ProductFields{SKU: fuzzMug, Name: "Mug", Price: price}})
	z.Do(f, http.MethodPut, "/inventory/"+fuzzMug, []byte(`{"onHand":10}`), meshtest.Admin()).Expect(http.StatusOK)
	meshtest.Publish(f, n.JS, events.OrdersService, events.OrderPlaced{OrderID: "o1", CustomerID: "alice", PaymentToken: "tok_visa",
		ExpiresAt: time.Now().Add(time.Hour), Total: events.Money{Amount: 5 * price.Amount, Currency: price.Currency},
		Items: []events.OrderItem{{ProductID: fuzzMug, Name: "Mug", Quantity: 5, UnitPrice: price}}})
	meshtest.Eventually(f, 10*time.Second, func() error {
		var st struct{ Reserved int64 }
		z.Do(f, http.MethodGet, "/inventory/"+fuzzMug, nil, nil).Expect(http.StatusOK).Decode(&st)
		if st.Reserved != 5 {
			return fmt.Errorf("%d reserved, want 5", st.Reserved)
		}
		return nil
	})
	return z
}

// fuzzStock sends body to path under the product id and checks a success
// is a 200.
func fuzzStock(t *testing.T, z *meshtest.Fuzzing, method, id, path string, body []byte) {
	segment, ok := meshtest.Segment(id)
	if !ok {
		t.Skip("not a path a client can send")
	}
	if r := z.Send(t, method, "/inventory/"+segment+path, body, meshtest.Admin()); r.Status < 300 && r.Status != http.StatusOK {
		t.Fatalf("answered %d", r.Status)
	}
}

// A count is set with 200, or refused, for the product id fuzzed too.
func FuzzSetStock(f *testing.F) {
	z := startFuzzing(f)
	for _, b := range []string{
		`{"onHand":12}`, `{"onHand":10}`, `{"onHand":5}`, `{"onHand":4}`, `{"onHand":0}`, `{"onHand":-1}`,
		`{"onHand":1000000000}`, `{"onHand":1000000001}`, `{"onHand":9223372036854775807}`, `{"onHand":1e3}`,
		`{"onHand":2.5}`, `{"onHand":"7"}`, `{"onHand":null}`, `{"onhand":7}`, `{"onHand":7,"reason":"x"}`,
		`{}`, `[]`, `null`, ``, `{"onHand":`,
	} {
		f.Add(fuzzMug, []byte(b))
	}
	f.Add("NOPE", []byte(`{"onHand":1}`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		fuzzStock(t, z, http.MethodPut, id, "", body)
	})
}

// An adjustment is made with 200, or refused, for the product id fuzzed
// too.
func FuzzAdjustStock(f *testing.F) {
	z := startFuzzing(f)
	for _, b := range []string{
		`{"delta":5,"reason":"restock from supplier"}`, `{"delta":-3,"reason":"broken"}`, `{"delta":-6,"reason":"lost"}`,
		`{"delta":0,"reason":"x"}`, `{"delta":1}`, `{"delta":1,"reason":""}`, `{"delta":1,"reason":"   "}`,
		`{"delta":1,"reason":"two\nlines"}`, `{"delta":1,"reason":"\u001b[2J"}`, `{"delta":1000000000,"reason":"x"}`,
		`{"delta":-1000000000,"reason":"x"}`, `{"delta":2000000000,"reason":"x"}`, `{"delta":-9223372036854775808,"reason":"x"}`,
		`{"delta":1.5,"reason":"x"}`, `{"delta":"1","reason":"x"}`, `{"delta":1,"reason":"x","extra":true}`,
		`{}`, `[]`, `null`, ``, `{"delta":`,
	} {
		f.Add(fuzzMug, []byte(b))
	}
	f.Add("NOPE", []byte(`{"delta":1,"reason":"x"}`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		fuzzStock(t, z, http.MethodPost, id, "/adjustments", body)
	})
}
