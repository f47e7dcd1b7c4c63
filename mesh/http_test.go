package mesh_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
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
			h := mesh.NewHTTP(mesh.Observer{Log: meshtest.Logger(t)}, "token")
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
