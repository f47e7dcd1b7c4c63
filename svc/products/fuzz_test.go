package products_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/products"
)

// The fuzz tests of the catalog's request bodies: whatever an admin's
// client sends as a product, the catalog answers with a success or a
// problem, never a 5xx, and a refusal writes no event. Their seeds are the
// bodies below and the files under testdata/fuzz; .ci/run fuzzes each for
// a bounded time (task fuzz).

// fuzzMug is the product every fuzz target starts with, under an id the
// seeds can name: it is published as an earlier replica would have.
const fuzzMug = "MUG"

// startFuzzing starts the catalog once for every input of a fuzz target.
func startFuzzing(f *testing.F) *meshtest.Fuzzing {
	n, z := meshtest.FuzzNode(f, events.ProductsStream)
	meshtest.Start(f, n, products.New())
	meshtest.Publish(f, n.JS, events.ProductsService, events.ProductCreated{ProductID: fuzzMug, ProductFields: events.ProductFields{
		SKU: "MUG-001", Name: "Enamel mug", Price: events.Money{Amount: 1299, Currency: "EUR"}}})
	return z
}

// productBodies are valid and nearly valid products, as seeds.
var productBodies = []string{
	`{"sku":"MUG-002","name":"Enamel mug","description":"A white enamel mug, 350 ml.","price":{"amount":1299,"currency":"EUR"}}`,
	`{"sku":"CUP-1","name":"Cup","price":{"amount":0,"currency":"USD"}}`,
	`{"sku":"PLATE.1_a-b","name":"Plate","description":"line one\nline two","price":{"amount":1000000000000,"currency":"GBP"}}`,
	`{"name":"Enamel mug","price":{"amount":1299,"currency":"EUR"}}`,
	`{"sku":"MUG-003","name":"   ","price":{"amount":1299,"currency":"EUR"}}`,
	`{"sku":"MUG-004","name":"Mug","price":{"amount":-1,"currency":"EUR"}}`,
	`{"sku":"MUG-005","name":"Mug","price":{"amount":12.5,"currency":"EUR"}}`,
	`{"sku":"MUG-006","name":"Mug","price":{"amount":"1299","currency":"EUR"}}`,
	`{"sku":"MUG-007","name":"Mug","price":{"amount":1299,"currency":"ABC"}}`,
	`{"sku":"MUG-008","name":"Mug","price":{"amount":1299,"currency":"eur"}}`,
	`{"sku":"MUG-009","name":"Mug","price":{"amount":1299,"currency":"EUR"},"colour":"white"}`,
	`{"sku":"MUG 010","name":"Mug","price":{"amount":1299,"currency":"EUR"}}`,
	`{"sku":"MUG-011","name":"Mug\u0000","price":{"amount":1299,"currency":"EUR"}}`,
	`{"sku":"MUG-001","name":"Taken","price":{"amount":1,"currency":"EUR"}}`,
	`{"sku":"MUG-012","name":"Mug","price":null}`,
	`{}`, `[]`, `null`, `""`, ``, `{"sku":`,
}

// A product is created with 201 and its Location, or refused.
func FuzzCreateProduct(f *testing.F) {
	z := startFuzzing(f)
	z.Do(f, http.MethodPost, "/products", []byte(productBodies[0]), meshtest.Admin()).Expect(http.StatusCreated)
	for _, b := range productBodies {
		f.Add([]byte(b))
	}
	// Past encoding/json's depth, and past the size of any body read.
	f.Add([]byte(strings.Repeat("[", 10_001)))
	f.Add([]byte(`{"sku":"MUG-013","name":"Mug","price":{"amount":1,"currency":"EUR"}}` + strings.Repeat(" ", httpapi.MaxBodyBytes)))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := z.Send(t, http.MethodPost, "/products", body, meshtest.Admin())
		if r.Status < 300 && (r.Status != http.StatusCreated || r.Header.Get("Location") == "") {
			t.Fatalf("created with %d, Location %q", r.Status, r.Header.Get("Location"))
		}
	})
}

// A product is replaced with 200, or refused; the id and If-Match are
// fuzzed with the body, the If-Match parsed by the catalog itself.
func FuzzUpdateProduct(f *testing.F) {
	z := startFuzzing(f)
	h := meshtest.Admin()
	h.Set("If-Match", `"1"`)
	z.Do(f, http.MethodPut, "/products/"+fuzzMug, []byte(productBodies[0]), h).Expect(http.StatusOK)
	for _, b := range productBodies {
		f.Add(fuzzMug, "", []byte(b))
	}
	for _, tag := range []string{`"2"`, `"1"`, `*`, `W/"2"`, `"2", "3"`, `"abc"`, `"-1"`, `"99999999999999999999"`} {
		f.Add(fuzzMug, tag, []byte(productBodies[0]))
	}
	f.Add("NOPE", "", []byte(productBodies[1]))
	f.Add("MUG/../x", "", []byte(productBodies[1]))
	f.Fuzz(func(t *testing.T, id, ifMatch string, body []byte) {
		segment, ok := meshtest.Segment(id)
		if !ok || !meshtest.HeaderValue(ifMatch) {
			t.Skip("not a request a client can send")
		}
		h := meshtest.Admin()
		h.Set("If-Match", ifMatch)
		if r := z.Send(t, http.MethodPut, "/products/"+segment, body, h); r.Status < 300 && r.Status != http.StatusOK {
			t.Fatalf("updated with %d", r.Status)
		}
	})
}
