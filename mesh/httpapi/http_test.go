package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/observe"
)

// /readyz fails on a failing check, and shows notes that need attention
// without failing.
func TestReadyzFailsOnChecksAndShowsNotes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		check  error
		note   string
		status int
		body   string
	}{
		{"ready", nil, "", http.StatusOK, `{"status":"ready"}`},
		{"ready with a note", nil, "1 message keeps failing", http.StatusOK,
			`{"attention":{"orders-on-payments":"1 message keeps failing"},"status":"ready"}`},
		{"not ready", errors.New("catching up"), "", http.StatusServiceUnavailable,
			`{"failing":{"orders projection":"catching up"},"status":"not ready"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := httpapi.NewHTTP(observe.Observer{Log: meshtest.Logger(t)}, "token")
			h.ReadyCheck("orders projection", func() error { return c.check })
			h.ReadyNote("orders-on-payments", func() string { return c.note })
			rec := httptest.NewRecorder()
			h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var got, want any
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			_ = json.Unmarshal([]byte(c.body), &want)
			if rec.Code != c.status || !jsonEqual(got, want) {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, c.status, c.body)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// A request that outlasts Huma's body-read timeout (5 s by default) must
// not leave a deadline on its connection: the server's background read
// would then fail and cancel the connection's context, and every later
// request on that keep-alive connection would start canceled (seen as a
// storm of instant 503s after a JetStream failover, until a restart).
func TestALongRequestLeavesItsConnectionUsable(t *testing.T) {
	t.Parallel()
	h := httpapi.NewHTTP(observe.Observer{Log: meshtest.Logger(t)}, meshtest.AdminToken)
	api := h.API(httpapi.ServiceDoc{Prefix: "/slow", Title: "slow"})
	type in struct {
		Body struct {
			Wait string `json:"wait"`
		}
	}
	type out struct {
		Body struct {
			Canceled bool `json:"canceled"`
		}
	}
	huma.Register(api, huma.Operation{OperationID: "wait", Method: http.MethodPost, Path: "/slow", Summary: "Wait"},
		func(ctx context.Context, i *in) (*out, error) {
			d, err := time.ParseDuration(i.Body.Wait)
			if err != nil {
				return nil, err
			}
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
			o := &out{}
			o.Body.Canceled = ctx.Err() != nil
			return o, nil
		})
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	c := meshtest.NewClient(t, srv.URL)
	for _, wait := range []string{"5500ms", "0s", "0s"} {
		var got struct{ Canceled bool }
		c.Do(http.MethodPost, "/slow", map[string]string{"wait": wait}, nil).Expect(http.StatusOK).Decode(&got)
		if got.Canceled {
			t.Fatalf("a request waiting %s on a connection that served a long one was canceled", wait)
		}
	}
}

// A body's properties are validated under their exact names. Huma matched
// them in any case and validated only one of two whose names differ in
// case, while encoding/json decoded the last: a count past its maximum got
// through beside a valid one. Such a body is refused, whole, before the
// handler.
func TestAPropertyInAnotherCaseIsRefused(t *testing.T) {
	t.Parallel()
	h := httpapi.NewHTTP(observe.Observer{Log: meshtest.Logger(t)}, meshtest.AdminToken)
	api := h.API(httpapi.ServiceDoc{Prefix: "/counts", Title: "counts"})
	type in struct {
		Body struct {
			Count int `json:"count" minimum:"1" maximum:"10"`
		}
	}
	type out struct {
		Body struct {
			Count int `json:"count"`
		}
	}
	huma.Register(api, huma.Operation{OperationID: "count", Method: http.MethodPost, Path: "/counts", Summary: "Count"},
		func(_ context.Context, i *in) (*out, error) {
			o := &out{}
			o.Body.Count = i.Body.Count
			return o, nil
		})
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/counts", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, req)
		return rec
	}
	if rec := post(`{"count":3}`); rec.Code != http.StatusOK {
		t.Fatalf("%d %s, want 200", rec.Code, rec.Body)
	}
	for _, body := range []string{`{"count":3,"COUNT":1000}`, `{"Count":1000,"count":3}`, `{"Count":3}`} {
		if rec := post(body); rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s, want 422", body, rec.Code, rec.Body)
		}
	}
}
