package schemas

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

// contracts compiles the readers' contracts once for the package's tests.
func contracts(t testing.TB) *Contracts {
	t.Helper()
	c, err := NewContracts()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func placedBody() events.OrderPlaced {
	return events.OrderPlaced{
		OrderID: "X", CustomerID: "alice", PaymentToken: "tok_visa", RequestHash: "h", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Items: []events.OrderItem{{ProductID: "mug", Name: "Mug", Quantity: 2, UnitPrice: events.Money{Amount: 450, Currency: "EUR"}}},
		Total: events.Money{Amount: 900, Currency: "EUR"},
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// What a reader holds an event to (issue 19, finding 3): every field its
// schema requires, of its type, within its bounds; a field it does not
// know is a newer producer's, and tolerated (ADR 12).
func TestContractsAreWhatReadersHoldEventsTo(t *testing.T) {
	t.Parallel()
	c := contracts(t)
	placed := events.OrderPlaced{}.EventType()
	good := mustJSON(t, placedBody())
	withField := func(field string) string {
		return strings.Replace(good, `"orderId":"X"`, `"orderId":"X",`+field, 1)
	}
	cases := []struct {
		name, eventType, body string
		breach                string // in the reason; "" when the body keeps its contract
	}{
		{"a whole placed order", placed, good, ""},
		{"a field added by a newer producer", placed, withField(`"giftWrap":{"paper":"red"}`), ""},
		{"a field added inside an item", placed, strings.Replace(good, `"name":"Mug"`, `"name":"Mug","colour":"blue"`, 1), ""},
		{"an integer written as 2.0", placed, strings.Replace(good, `"quantity":2`, `"quantity":2.0`, 1), ""},
		{"the attack: an id alone", placed, `{"orderId":"X"}`, "missing properties"},
		{"no customer", placed, strings.Replace(good, `"customerId":"alice",`, "", 1), "customerId"},
		{"a null total", placed, strings.Replace(good, `"total":{"amount":900,"currency":"EUR"}`, `"total":null`, 1), "/total"},
		{"null items", placed, strings.Replace(good, `"items":[`, `"items":null,"x":[`, 1), "/items"},
		{"an item without its price", placed, strings.Replace(good, `,"unitPrice":{"amount":450,"currency":"EUR"}`, "", 1), "/items/0"},
		{"a negative total", placed, strings.Replace(good, `"amount":900`, `"amount":-900`, 1), "/total/amount"},
		{"a fractional quantity", placed, strings.Replace(good, `"quantity":2`, `"quantity":2.5`, 1), "/items/0/quantity"},
		{"a currency that is not one", placed, strings.Replace(good, `"currency":"EUR"}}]`, `"currency":"euro"}}]`, 1), "/items/0/unitPrice/currency"},
		{"an id that is a number", placed, strings.Replace(good, `"orderId":"X"`, `"orderId":7`, 1), "/orderId"},
		{"an array for a body", placed, `[]`, "want object"},
		{"not JSON", placed, `{not json`, "not JSON"},
		{"nothing", placed, ``, "not JSON"},
		{"a deleted product with its id", events.ProductDeleted{}.EventType(), `{"productId":"p1"}`, ""},
		{"a deleted product without", events.ProductDeleted{}.EventType(), `{}`, "productId"},
		{"a type no schema names", "shopmesh.shipping.parcel.sent.v1", `{}`, ""},
		{"a message of no type", "", `garbage`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := c.Check(tc.eventType, []byte(tc.body))
			switch {
			case tc.breach == "" && err != nil:
				t.Fatalf("Check refused a body that keeps its contract: %v", err)
			case tc.breach != "" && err == nil:
				t.Fatalf("Check passed a body that breaks its contract: %s", tc.body)
			case err != nil && !strings.Contains(err.Error(), tc.breach):
				t.Fatalf("reason %q does not say %q", err, tc.breach)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("reason %q is more than one line", err)
			}
		})
	}
}

// Every event type this version knows has a contract its readers check.
func TestEveryEventTypeHasAContract(t *testing.T) {
	t.Parallel()
	c := contracts(t)
	for _, e := range events.All() {
		if _, ok := c.shapes[e.EventType()]; !ok {
			t.Errorf("%s has no contract", e.EventType())
		}
	}
}

// A schema that says more than a reader's shape checks fails to compile,
// rather than be checked in part.
func TestAShapeRefusesWhatItCannotCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		doc  map[string]any
	}{
		{"an unknown keyword", map[string]any{"type": "string", "maxLength": json.Number("3")}},
		{"a list of types", map[string]any{"type": []any{"string", "null"}}},
		{"no type", map[string]any{"properties": map[string]any{}}},
		{"a null type", map[string]any{"type": "null"}},
		{"a required property not described", map[string]any{"type": "object", "properties": map[string]any{}, "required": []any{"id"}}},
		{"a nested unknown keyword", map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string", "enum": []any{"a"}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := compileShape(tc.doc); err == nil {
				t.Fatalf("compiled %v", tc.doc)
			}
		})
	}
}

// What checking an event costs a reader: every one checks every event it
// reads, on the path of the saga. Beside it, what decoding it costs, and
// what the general validator would.
func BenchmarkCheck(b *testing.B) {
	c := contracts(b)
	placed := placedBody()
	good := []byte(mustJSON(b, placed))
	b.Run("keeps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Check(placed.EventType(), good); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) { // what the reader does next, for scale
		b.ReportAllocs()
		for b.Loop() {
			if _, err := events.Decode(placed.EventType(), good); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validator", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.reasons.reason(placed.EventType(), good); err != nil {
				b.Fatal(err)
			}
		}
	})
}
