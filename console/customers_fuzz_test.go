package console_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/console"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/svc/orders/app"
)

// The fuzz test of the demo shop's sign-up: whatever name is sent, the
// console answers with a new customer or a problem, never a 5xx, and the
// token it gives is one the shop accepts for that customer. Its seeds are
// the bodies below and the files under testdata/fuzz; .ci/run fuzzes it
// for a bounded time (task fuzz). Sign-up writes no event, so the console
// runs without JetStream here.
//
// The customer id it makes must be one the orders service takes, or the
// new customer could not place an order.
func FuzzSignUp(f *testing.F) {
	z := meshtest.NewFuzzing()
	h := httpapi.NewHTTP(observe.Observer{Log: z.Logger()}, meshtest.AdminToken)
	console.Register(h, console.Options{Tokens: h.CustomerTokens(), Demo: true, Log: z.Logger()})
	z.Handler = h.Handler()
	for _, b := range []string{
		`{"name":"Alice"}`, `{"name":"Mary Ann-Smith_2.0"}`, `{"name":"  Bob  "}`, `{"name":"ALICE"}`,
		`{"name":""}`, `{"name":"   "}`, `{"name":"Al!ce"}`, `{"name":"-Alice"}`, `{"name":"Zoë"}`, `{"name":"a\tb"}`, `{"name":"a\u0000b"}`,
		`{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`, `{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`,
		`{"name":7}`, `{"name":"Alice","admin":true}`, `{}`, `[]`, `null`, ``, `{"name":`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := z.Send(t, http.MethodPost, "/console/customers", body, nil)
		if r.Status >= 300 {
			return
		}
		var c console.NewCustomer
		r.Expect(http.StatusCreated).Decode(&c)
		if got, err := h.CustomerTokens().Verify(c.Token, time.Now()); err != nil || got != c.CustomerID {
			t.Fatalf("the token of %q is %q's (%v)", c.CustomerID, got, err)
		}
		if !app.ValidCustomer(c.CustomerID) {
			t.Fatalf("signed up as %q, which orders refuse", c.CustomerID)
		}
	})
}
