package meshtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
)

// Fuzzing serves the requests of a fuzz test of an API's request bodies.
// One handler, on one server and service, serves every input of a fuzz
// target: starting JetStream and a service for each input would leave the
// fuzzer a few inputs a second.
type Fuzzing struct {
	// Handler is the whole HTTP handler (httpapi.HTTP.Handler). It is
	// called in process, without a connection: a client's and a server's
	// goroutines would run beside each input and cover code the fuzzer
	// would take for the input's, and a server would recover a panic the
	// fuzzer must see.
	Handler http.Handler
	// JS and Stream, when set, are the stream a refused request must leave
	// as it was: a 4xx that wrote an event would have changed the shop.
	JS     jetstream.JetStream
	Stream string

	log *inputLog
}

// NewFuzzing returns a Fuzzing whose Logger writes to the input being
// sent; set its Handler.
func NewFuzzing() *Fuzzing { return &Fuzzing{log: &inputLog{}} }

// FuzzNode returns a node as Node does, for a fuzz target, with the
// Fuzzing that sends requests to its handler; a refusal must leave stream
// as it was. The node logs through the Fuzzing's Logger.
func FuzzNode(f *testing.F, stream string) (*mesh.Node, *Fuzzing) {
	f.Helper()
	z := NewFuzzing()
	n := newNode(f, z.Logger())
	z.Handler, z.JS, z.Stream = n.HTTP.Handler(), n.JS, stream
	return n, z
}

// Logger writes warnings and errors to the log of the input being sent.
func (z *Fuzzing) Logger() zerolog.Logger {
	return zerolog.New(z.log).Level(zerolog.WarnLevel)
}

// Send sends body as it is, with header, and checks the answer as every
// answer to a fuzzed request must be (Response.ExpectHandled); a refusal
// must not have written to the stream.
func (z *Fuzzing) Send(t *testing.T, method, path string, body []byte, header http.Header) *Response {
	t.Helper()
	z.log.run(t)
	before := z.last(t)
	r := z.Do(t, method, path, body, header).ExpectHandled()
	if r.Status >= 400 && z.last(t) != before {
		t.Fatalf("a refusal (%d) wrote to %s: %s", r.Status, z.Stream, r.Body)
	}
	return r
}

// Do serves one request with body as it is, as JSON, and header.
func (z *Fuzzing) Do(t testing.TB, method, path string, body []byte, header http.Header) *Response {
	t.Helper()
	var r io.Reader // none when empty, as a server reads Content-Length: 0
	if len(body) > 0 {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequestWithContext(Context(t), method, path, r)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	z.Handler.ServeHTTP(rec, req)
	return &Response{t: t, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// last is the sequence of the stream's last message, or 0 without one.
func (z *Fuzzing) last(t *testing.T) uint64 {
	t.Helper()
	if z.Stream == "" {
		return 0
	}
	s, err := z.JS.Stream(Context(t), z.Stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}

// inputLog writes a fuzz target's log to the input being sent, where a
// failure shows it, and to stderr when none is: testing forbids f.Log
// inside the fuzz function, and fails a test logged to once it has ended.
type inputLog struct {
	mu    sync.Mutex
	input testing.TB
}

func (l *inputLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.input == nil {
		return os.Stderr.Write(p)
	}
	l.input.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// run sends the log to t until t ends.
func (l *inputLog) run(t testing.TB) {
	l.mu.Lock()
	l.input = t
	l.mu.Unlock()
	t.Cleanup(func() {
		l.mu.Lock()
		l.input = nil
		l.mu.Unlock()
	})
}

// ExpectHandled fails the test unless the answer is one the shop gives
// whatever a client sends: a success with a JSON body, or a client error
// as an RFC 9457 problem with its status and a title. A server error (5xx)
// fails, and so does a redirect, which no operation answers.
func (r *Response) ExpectHandled() *Response {
	r.t.Helper()
	switch {
	case r.Status >= 200 && r.Status < 300:
		if len(r.Body) > 0 && !json.Valid(r.Body) {
			r.t.Fatalf("status %d with a body that is not JSON: %q", r.Status, r.Body)
		}
	case r.Status >= 400 && r.Status < 500:
		r.Problem(r.Status)
	default:
		r.t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	return r
}

// Segment is s escaped as one segment of a URL's path, and whether it
// stays one: the router cleans an empty segment (the // it makes), "."
// and ".." out of a path, and answers with a redirect to the clean one.
func Segment(s string) (string, bool) {
	return url.PathEscape(s), s != "" && s != "." && s != ".."
}

// HeaderValue reports whether v can be a header's value: no control
// character but the tab (RFC 9110, 5.5). A server refuses others before
// any handler sees them, and a client does not send them.
func HeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}
