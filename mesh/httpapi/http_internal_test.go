package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/rs/zerolog"
)

// Reads and probes log at debug, so polling clients do not flood the log;
// a changing request at info; a server error as an error, except a
// /readyz 503, which only says "not ready yet".
func TestRequestLogLevels(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, path string
		status       int
		want         zerolog.Level
	}{
		{http.MethodGet, "/orders/o1", 200, zerolog.DebugLevel},
		{http.MethodGet, "/readyz", 503, zerolog.DebugLevel},
		{http.MethodGet, "/healthz", 200, zerolog.DebugLevel},
		{http.MethodPost, "/orders", 202, zerolog.InfoLevel},
		{http.MethodPost, "/orders", 422, zerolog.InfoLevel},
		{http.MethodGet, "/orders/o1", 500, zerolog.ErrorLevel},
		{http.MethodPost, "/orders", 503, zerolog.ErrorLevel},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.path, nil)
		if got := requestLevel(r, c.status); got != c.want {
			t.Errorf("%s %s %d logs at %v, want %v", c.method, c.path, c.status, got, c.want)
		}
	}
}

// Unavailable is a 503 with Retry-After, so that clients try again.
func TestUnavailableAsksForARetry(t *testing.T) {
	t.Parallel()
	var se huma.StatusError
	if !errors.As(Unavailable("orders"), &se) || se.GetStatus() != http.StatusServiceUnavailable {
		t.Fatalf("Unavailable is %v", Unavailable("orders"))
	}
	if h, ok := Unavailable("orders").(huma.HeadersError); !ok || h.GetHeaders().Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}
