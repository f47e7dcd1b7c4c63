package meshtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/mesh"
)

// httpClient keeps a connection open per concurrent caller: the default
// keeps two, so benchmarks with 32 customers would measure TCP handshakes.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}

// Client calls a test HTTP server and fails the test on transport errors.
type Client struct {
	t   testing.TB
	URL string
	// Header is sent with every request, under the request's own headers.
	Header http.Header
}

// Serve serves the node's HTTP handler until the test ends.
func Serve(t testing.TB, n *mesh.Node) *Client {
	srv := httptest.NewServer(n.HTTP.Handler())
	t.Cleanup(srv.Close)
	return &Client{t: t, URL: srv.URL}
}

// NewClient calls the server at url.
func NewClient(t testing.TB, url string) *Client { return &Client{t: t, URL: url} }

// Response is a finished HTTP exchange.
type Response struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

// Anonymous leaves out the client's default Authorization header.
func Anonymous() http.Header { return http.Header{"Authorization": nil} }

// Admin is the header that authorises admin operations on test nodes.
func Admin() http.Header {
	return http.Header{"Authorization": {"Bearer " + AdminToken}}
}

// Do sends body (marshalled to JSON unless it is a string or nil).
func (c *Client) Do(method, path string, body any, header http.Header) *Response {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	for k, v := range header {
		if len(v) == 0 {
			req.Header.Del(k) // leaves out a default header
			continue
		}
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &Response{t: c.t, Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Expect fails the test unless the status is want.
func (r *Response) Expect(want int) *Response {
	r.t.Helper()
	if r.Status != want {
		r.t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
	return r
}

// Decode unmarshals the body into v.
func (r *Response) Decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem is an RFC 9457 problem document as Huma writes it.
type Problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

// Problem checks that the response is a problem+json with status want and
// returns it.
func (r *Response) Problem(want int) Problem {
	r.t.Helper()
	r.Expect(want)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("content type %q, want application/problem+json", ct)
	}
	var p Problem
	r.Decode(&p)
	if p.Status != want || p.Title == "" {
		r.t.Fatalf("problem %+v lacks status or title", p)
	}
	return p
}

// Names reports whether the problem names location (e.g. body.price.amount),
// either as an error's location or, for a missing property, in the message
// of an error located at its parent.
func (p Problem) Names(location string) bool {
	parent, field, _ := strings.Cut(location, ".")
	if i := strings.LastIndex(location, "."); i >= 0 {
		parent, field = location[:i], location[i+1:]
	}
	for _, e := range p.Errors {
		if e.Location == location || (e.Location == parent && strings.Contains(e.Message, "property "+field+" ")) {
			return true
		}
	}
	return false
}
