package httpapi

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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

// deadlineWriter is a connection's writer whose deadline cannot be set.
type deadlineWriter struct {
	http.ResponseWriter
	err error
}

func (d deadlineWriter) SetWriteDeadline(time.Time) error { return d.err }

// A stream of changes sets a write deadline before each event. Once its
// client has gone the connection is closed, which is no error of the
// deadline's: the event's write says so (Huma would print it to stderr,
// outside the logs). Any other failure is still reported.
func TestAClosedConnectionsDeadlineIsNoError(t *testing.T) {
	t.Parallel()
	closed := &net.OpError{Op: "set", Net: "tcp", Err: net.ErrClosed}
	other := errors.New("not supported here")
	for _, c := range []struct {
		err, want error
	}{{closed, nil}, {other, other}, {nil, nil}} {
		s := &statusRecorder{ResponseWriter: deadlineWriter{httptest.NewRecorder(), c.err}}
		if got := s.SetWriteDeadline(time.Now()); !errors.Is(got, c.want) || (c.want == nil && got != nil) {
			t.Errorf("deadline failing with %v: got %v, want %v", c.err, got, c.want)
		}
	}
}
