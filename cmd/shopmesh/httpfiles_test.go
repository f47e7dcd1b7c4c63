package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// The files of http/ promise that every request works verbatim on a fresh
// shop, and again on the same shop. TestHTTPFilesRunTwice holds them to it:
// it starts a shop with the token http/README.md tells people to use, points
// each file's @base at it, and runs every file top to bottom, twice.
//
// What each request must get back is said by its title (### ...):
//   - a title that starts with "Bad input (NNN)" or "Refused (NNN)" announces
//     an error: the response must be that status, as a problem+json;
//   - every other request must succeed with a 2xx.
//
// A Server-Sent Events stream succeeds with its first event.

// httpFilesToken is the admin token of the files' @token and of the command
// line in http/README.md.
const httpFilesToken = "dev-admin-token-only"

// httpFileTimeout bounds every request, and a stream's wait for its first
// event.
const httpFileTimeout = 20 * time.Second

// announcedError is a title that says the request must fail, and how.
var announcedError = regexp.MustCompile(`^(Bad input|Refused) \((4\d\d)\)`)

// sagaSteps are the requests that look at what the saga does after an order
// is accepted. A person clicking through a file is slower than the saga; the
// test is not, so before such a request it reads path (with the admin token)
// until the JSON it returns has the status the request needs.
var sagaSteps = map[string]struct{ path, status string }{
	// The payment is there to read, and to refund, once it is captured. The
	// order's confirmation is no sign of that: payments' read model follows
	// its own events, and may be a moment behind the orders'.
	"payments.http: Payments of the order (admin: payments are the back office's)": {
		"/payments/pay_{{order.response.body.id}}", "captured"},
}

func TestHTTPFilesRunTwice(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../http/*.http")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .http files: %v", err)
	}
	parsed := make([]httpFile, len(files))
	for i, path := range files {
		if parsed[i], err = parseHTTPFile(path); err != nil {
			t.Fatal(err)
		}
	}
	checkSagaSteps(t, parsed)
	cfg := testConfig(t)
	cfg.AdminToken = httpFilesToken
	s := startTestShop(t, cfg)
	defer s.close()
	stamps := &timestamps{start: time.Now().Unix()}
	for run := 1; run <= 2; run++ {
		for _, f := range parsed {
			t.Run(fmt.Sprintf("run %d/%s", run, f.name), func(t *testing.T) {
				r := &httpFileRun{t: t, file: f, base: s.httpURL, stamps: stamps, responses: map[string]any{}}
				for _, req := range f.requests {
					r.do(req)
				}
			})
		}
	}
}

// checkSagaSteps fails on a step whose request is no longer in the files
// (its title changed, say), as the test would then not wait for it.
func checkSagaSteps(t *testing.T, files []httpFile) {
	t.Helper()
	titles := map[string]bool{}
	for _, f := range files {
		for _, req := range f.requests {
			titles[f.name+": "+req.title] = true
		}
	}
	for title := range sagaSteps {
		if !titles[title] {
			t.Errorf("sagaSteps names %q, a request no file has", title)
		}
	}
}

// httpFile is a parsed .http file.
type httpFile struct {
	name     string
	vars     map[string]string // the file variables, @name = value
	requests []httpRequest
}

// httpRequest is one request of a file, with its variables not yet
// substituted.
type httpRequest struct {
	line    int
	title   string // the text after ###
	name    string // of # @name, for later requests to refer to its response
	method  string
	url     string
	headers []string // Name: value lines
	body    string
}

func (r httpRequest) String() string { return fmt.Sprintf("line %d %q", r.line, r.title) }

// parseHTTPFile reads the subset of the format both clients share:
// requests separated by ### lines, # and // comments, # @name, @var = value
// file variables, and a request line, headers, a blank line and a body.
func parseHTTPFile(path string) (httpFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return httpFile{}, err
	}
	f := httpFile{name: filepath.Base(path), vars: map[string]string{}}
	var cur *httpRequest
	inBody := false
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "###"):
			f.add(cur)
			cur = &httpRequest{line: i + 1, title: strings.TrimSpace(strings.TrimPrefix(trimmed, "###"))}
			inBody = false
		case inBody:
			cur.body += line + "\n"
		case cur != nil && cur.method != "":
			// Headers until the blank line that starts the body.
			if trimmed == "" {
				inBody = true
			} else if !isComment(trimmed) {
				cur.headers = append(cur.headers, trimmed)
			}
		case strings.HasPrefix(trimmed, "@"):
			name, value, ok := strings.Cut(trimmed[1:], "=")
			if !ok {
				return f, fmt.Errorf("%s:%d: a variable without a value: %s", path, i+1, trimmed)
			}
			f.vars[strings.TrimSpace(name)] = strings.TrimSpace(value)
		case trimmed == "":
		case isComment(trimmed):
			if name, ok := strings.CutPrefix(strings.TrimLeft(trimmed, "#/ "), "@name "); ok && cur != nil {
				cur.name = strings.TrimSpace(name)
			}
		default:
			if cur == nil { // a request before the first ###
				cur = &httpRequest{line: i + 1}
			}
			method, url, ok := strings.Cut(trimmed, " ")
			if !ok {
				return f, fmt.Errorf("%s:%d: not a request line: %s", path, i+1, trimmed)
			}
			cur.method = method
			cur.url, _, _ = strings.Cut(strings.TrimSpace(url), " HTTP/") // the version is optional
		}
	}
	f.add(cur)
	return f, nil
}

// add keeps a request; a ### block with only comments in it is none.
func (f *httpFile) add(r *httpRequest) {
	if r != nil && r.method != "" {
		r.body = strings.TrimSpace(r.body)
		f.requests = append(f.requests, *r)
	}
}

func isComment(line string) bool {
	return strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//")
}

// timestamps makes {{$timestamp}}: unix seconds as both clients do, plus one
// for every earlier use in the test, so that the two runs, even within the
// same second, get SKUs of their own.
type timestamps struct {
	start int64
	used  int64
}

func (s *timestamps) next() string {
	s.used++
	return strconv.FormatInt(s.start+s.used, 10)
}

// httpFileRun is one run of one file: the named responses so far.
type httpFileRun struct {
	t         *testing.T
	file      httpFile
	base      string
	stamps    *timestamps
	responses map[string]any // decoded JSON bodies of named requests
}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]+?)\s*\}\}`)

// substitute fills in {{...}}: file variables (the test's shop for @base),
// {{$timestamp}}, and {{name.response.body.a.b}} from an earlier response.
func (r *httpFileRun) substitute(text string) string {
	r.t.Helper()
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		r.t.Helper()
		expr := placeholder.FindStringSubmatch(m)[1]
		switch name, path, isResponse := strings.Cut(expr, ".response.body."); {
		case expr == "$timestamp":
			return r.stamps.next()
		case expr == "base":
			return r.base
		case isResponse:
			return r.responseField(name, path)
		}
		value, ok := r.file.vars[expr]
		if !ok {
			r.t.Fatalf("{{%s}} is not a variable of %s", expr, r.file.name)
		}
		return r.substitute(value) // a variable may use others
	})
}

// responseField follows a dotted path (the clients' JSONPath, $. optional)
// into the JSON body of the request named name.
func (r *httpFileRun) responseField(name, path string) string {
	r.t.Helper()
	v, ok := r.responses[name]
	if !ok {
		r.t.Fatalf("{{%s.response.body.%s}}: no earlier request named %s answered with JSON", name, path, name)
	}
	for _, key := range strings.Split(strings.TrimPrefix(path, "$."), ".") {
		obj, _ := v.(map[string]any)
		if v, ok = obj[key]; !ok {
			r.t.Fatalf("{{%s.response.body.%s}}: no %q in the response", name, path, key)
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// do sends one request and checks its response against its title.
func (r *httpFileRun) do(req httpRequest) {
	r.t.Helper()
	r.awaitSaga(req)
	resp := r.send(req)
	r.t.Logf("%s: %s %s -> %d", req, req.method, resp.url, resp.status)
	if m := announcedError.FindStringSubmatch(req.title); m != nil {
		want, _ := strconv.Atoi(m[2])
		if ct := resp.header.Get("Content-Type"); resp.status != want || ct != "application/problem+json" {
			r.t.Fatalf("%s: %d %s, want the %d problem its title announces: %s", req, resp.status, ct, want, resp.body)
		}
		return
	}
	if resp.status < 200 || resp.status > 299 {
		r.t.Fatalf("%s: %d, want a 2xx (a request that should fail says so in its title): %s", req, resp.status, resp.body)
	}
	if req.name != "" {
		var v any
		if err := json.Unmarshal(resp.body, &v); err != nil {
			r.t.Fatalf("%s: the response of %s is not JSON: %v", req, req.name, err)
		}
		r.responses[req.name] = v
	}
}

// httpFileResponse is what a request got back, and where it went once its
// variables were filled in.
type httpFileResponse struct {
	url    string
	status int
	header http.Header
	body   []byte
}

// send makes the request and reads the whole response, or, from a stream
// of Server-Sent Events, its first event.
func (r *httpFileRun) send(req httpRequest) httpFileResponse {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), httpFileTimeout)
	defer cancel()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(r.substitute(req.body))
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, r.substitute(req.url), body)
	if err != nil {
		r.t.Fatalf("%s: %v", req, err)
	}
	for _, h := range req.headers {
		name, value, ok := strings.Cut(r.substitute(h), ":")
		if !ok {
			r.t.Fatalf("%s: not a header: %s", req, h)
		}
		hr.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		r.t.Fatalf("%s: no response: %v", req, err)
	}
	defer resp.Body.Close()
	out := httpFileResponse{url: hr.URL.String(), status: resp.StatusCode, header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		if out.body, err = firstEvent(resp.Body); err != nil {
			r.t.Fatalf("%s: a stream with no event: %v", req, err)
		}
		return out
	}
	if out.body, err = io.ReadAll(resp.Body); err != nil {
		r.t.Fatalf("%s: %v", req, err)
	}
	return out
}

// firstEvent reads a Server-Sent Events stream up to the blank line that
// ends its first event. The stream itself never ends: the caller's
// context closes it.
func firstEvent(stream io.Reader) ([]byte, error) {
	var event []byte
	lines := bufio.NewScanner(stream)
	for lines.Scan() {
		if len(lines.Bytes()) == 0 && len(event) > 0 {
			return event, nil
		}
		event = append(append(event, lines.Bytes()...), '\n')
	}
	if err := lines.Err(); err != nil {
		return nil, err
	}
	return nil, io.ErrUnexpectedEOF
}

// awaitSaga waits, before a request of sagaSteps, until what it needs has
// the status it needs.
func (r *httpFileRun) awaitSaga(req httpRequest) {
	r.t.Helper()
	step, ok := sagaSteps[r.file.name+": "+req.title]
	if !ok {
		return
	}
	poll := httpRequest{line: req.line, title: "before " + req.title, method: http.MethodGet,
		url: r.base + step.path, headers: []string{"Authorization: Bearer " + httpFilesToken}}
	meshtest.Eventually(r.t, httpFileTimeout, func() error {
		resp := r.send(poll)
		var v struct{ Status string }
		if resp.status != http.StatusOK || json.Unmarshal(resp.body, &v) != nil || v.Status != step.status {
			return fmt.Errorf("%s: %s is %d %s, want status %q", req, resp.url, resp.status, resp.body, step.status)
		}
		return nil
	})
}
