package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/swaggest/swgui/v5emb"
	"go.opentelemetry.io/otel/trace"
)

// MaxBodyBytes caps every request body. Shop requests are small; a larger
// body is a mistake or an attack, answered with 413 before it is parsed.
const MaxBodyBytes = 64 << 10

// AdminSecurity marks an operation as needing the admin bearer token.
var AdminSecurity = []map[string][]string{{"bearer": {}}}

// CustomerSecurity marks an operation as needing a customer token, or the
// admin token, which acts for any customer. The handler finds out which
// with CallerOf.
var CustomerSecurity = []map[string][]string{{"customer": {}}, {"bearer": {}}}

// ServiceDoc describes one service's HTTP API for the landing page.
type ServiceDoc struct {
	Prefix      string
	Title       string
	Description string
	// Problems are examples of the service's errors, shown under every
	// operation's response of their status unless it has its own.
	Problems []Problem
}

// HTTP is the one HTTP server every service mounts its API on.
type HTTP struct {
	mux      *http.ServeMux
	log      zerolog.Logger
	metrics  *observe.Metrics
	tracing  *observe.Tracing
	token    string
	services []ServiceDoc
	asyncAPI bool
	checks   map[string]func() error
	notes    map[string]func() string
	// customers checks the customer tokens.
	customers *CustomerTokens
	// home serves / in place of the landing page (the console), when set.
	home http.Handler
	// followers bounds the followers of every stream of changes.
	followers *Followers
}

// NewHTTP returns a server whose admin operations accept token. With
// metrics, they are served on /metrics.
func NewHTTP(o observe.Observer, token string) *HTTP {
	h := &HTTP{mux: http.NewServeMux(), log: o.Log, token: token, customers: NewCustomerTokens(token),
		metrics: o.Metrics, tracing: o.Tracing, checks: map[string]func() error{},
		notes: map[string]func() string{}, followers: NewFollowers(o.Metrics)}
	if o.Metrics != nil {
		h.mux.Handle("GET /metrics", o.Metrics.Handler())
	}
	h.mux.HandleFunc("GET /{$}", h.landing)
	h.mux.HandleFunc("/", h.unrouted)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.mux.HandleFunc("GET /readyz", h.readyz)
	return h
}

// Mux exposes the router for extra endpoints such as /metrics.
func (h *HTTP) Mux() *http.ServeMux { return h.mux }

// ReadyCheck adds a named readiness condition to /readyz.
func (h *HTTP) ReadyCheck(name string, check func() error) { h.checks[name] = check }

// ReadyNote adds a named note to /readyz: something an operator should
// look at that does not make the process unready (a message a reaction
// keeps failing on). An empty note is left out.
func (h *HTTP) ReadyNote(name string, note func() string) { h.notes[name] = note }

// API creates a service's Huma API with its own OpenAPI document
// (prefix/openapi.json and .yaml, see serveSpec) and an offline try-it
// page (prefix/docs) whose scripts are embedded in the binary. Operations
// use full paths that start with the prefix, so the document shows the
// real URLs.
func (h *HTTP) API(doc ServiceDoc) huma.API {
	strictCasing.Do(func() { huma.ValidateStrictCasing = true })
	h.services = append(h.services, doc)
	cfg := huma.DefaultConfig(doc.Title, "1.0.0")
	cfg.Info.Description = doc.Description
	// The document is served by serveSpec, with the request's server.
	cfg.OpenAPIPath = ""
	cfg.SchemasPath = "/schemas" + doc.Prefix // outside the API paths, like the docs
	cfg.DocsPath = ""
	// No "$schema" link in every body: responses stay plain JSON.
	cfg.CreateHooks = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "The admin token shown in the shopmesh run banner."},
		"customer": {Type: "http", Scheme: "bearer", Description: "A customer's token: POST /orders/customer-tokens " +
			"with the admin token, or `shopmesh token <customer>`. The admin token is accepted too, and acts for any customer."},
	}
	api := humago.New(h.mux, cfg)
	api.UseMiddleware(h.authorize(api))
	tidyErrorModel(api.OpenAPI().Components.Schemas)
	h.serveSpec(doc.Prefix, api)
	h.serveDocs(doc)
	grp := huma.NewGroup(api)
	grp.UseSimpleModifier(func(op *huma.Operation) {
		op.MaxBodyBytes = MaxBodyBytes
		// The body is already in memory (readBodies; the server's
		// ReadTimeout bounds its arrival). Huma's own body-read deadline
		// would stay on the connection instead, and firing during a long
		// request (a write waiting out a JetStream election) it cancels
		// the connection's context: every later request on that
		// keep-alive connection would start canceled.
		op.BodyReadTimeout = -1
	})
	grp.UseSimpleModifier(documentErrors(doc.Problems))
	return grp
}

// strictCasing has Huma validate a body's properties under their exact
// names, as the documents spell them. By default Huma matches names in any
// case, and validates one of two properties whose names differ only in
// case while encoding/json decodes the last of them: beside a valid
// "ttlSeconds", a "TTLSeconds" of 99999999999 was never checked, and made
// a customer token valid for 246 years. A property in another case is
// refused instead, as one the schema does not have. The setting is Huma's,
// for the whole process: it is set once, before any API serves a request.
var strictCasing sync.Once

// serveDocs serves the try-it page at prefix/docs. Its embedded scripts
// live under /docs/<service>/, outside the API's own paths, so they can
// never clash with an operation such as /orders/{id}/timeline.
func (h *HTTP) serveDocs(doc ServiceDoc) {
	assets := "/docs" + doc.Prefix + "/"
	ui := v5emb.New(doc.Title, doc.Prefix+"/openapi.json", assets)
	h.mux.Handle("GET "+assets, ui)
	h.mux.HandleFunc("GET "+doc.Prefix+"/docs", func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.URL.Path = assets
		ui.ServeHTTP(w, r)
	})
}

// authorize lets through what an operation's security asks for: nothing,
// the admin token, or a customer token (or the admin's). Who called is put
// in the context for the handler (CallerOf).
func (h *HTTP) authorize(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		security := ctx.Operation().Security
		if len(security) == 0 {
			next(ctx)
			return
		}
		caller := identify(ctx.Header("Authorization"), h.token, h.customers)
		if caller.Admin || (caller.Customer != "" && allowsCustomers(security)) {
			next(huma.WithContext(ctx, WithCaller(ctx.Context(), caller)))
			return
		}
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="shopmesh"`)
		_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, unauthorized(security))
	}
}

// unauthorized says which token an operation with security needs.
func unauthorized(security []map[string][]string) string {
	if allowsCustomers(security) {
		return "a valid customer token (or the admin token) is required"
	}
	return "a valid admin bearer token is required"
}

func allowsCustomers(security []map[string][]string) bool {
	for _, s := range security {
		if _, ok := s["customer"]; ok {
			return true
		}
	}
	return false
}

// Followers bounds the followers of the streams of changes served here
// (RegisterStream).
func (h *HTTP) Followers() *Followers { return h.followers }

// CustomerTokens issues and checks the customer tokens this server accepts.
func (h *HTTP) CustomerTokens() *CustomerTokens { return h.customers }

// Handler returns the server's handler: tracing and request logging around
// the router, whose catch-all answers unrouted requests with problems.
func (h *HTTP) Handler() http.Handler {
	return h.traceRequests(h.logRequests(readBodies(h.mux)))
}

// readBodies reads every request body whole before routing, and requires
// it to be JSON. A body that ends early (the client went away mid-way) is
// then a 400 and a slow one a 408, not a failed read inside a handler
// (500); one over MaxBodyBytes is a 413. A body of another type is a 415,
// which also keeps a cross-site form from posting to the API.
func readBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if status, detail := bodyProblem(err); status != 0 {
			WriteProblem(w, status, detail)
			return
		}
		if ct := r.Header.Get("Content-Type"); len(data) > 0 && !isJSON(ct) {
			WriteProblem(w, http.StatusUnsupportedMediaType, notJSON(ct))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		next.ServeHTTP(w, r)
	})
}

func bodyProblem(err error) (int, string) {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", MaxBodyBytes)
	case errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusRequestTimeout, "the body did not arrive in time"
	}
	return http.StatusBadRequest, "the body ended before it was complete"
}

func notJSON(contentType string) string {
	return fmt.Sprintf("the body must be application/json, not %q", contentType)
}

// isJSON accepts application/json and application/*+json, with parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")))
}

// unrouted answers what no operation matches, as a problem: 405 with Allow
// when the path exists for other methods, 404 otherwise. It is the router's
// catch-all, so routed requests never pay for it.
func (h *HTTP) unrouted(w http.ResponseWriter, r *http.Request) {
	status := http.StatusNotFound
	if allow := h.allowed(r); len(allow) > 0 {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	WriteProblem(w, status, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
}

// allowed lists the methods some operation serves the request's path with.
func (h *HTTP) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

// WriteProblem writes an RFC 9457 problem document.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"title": http.StatusText(status), "status": status, "detail": detail,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *HTTP) readyz(w http.ResponseWriter, _ *http.Request) {
	failing := map[string]string{}
	for name, check := range h.checks {
		if err := check(); err != nil {
			failing[name] = err.Error()
		}
	}
	attention := map[string]string{}
	for name, note := range h.notes {
		if n := note(); n != "" {
			attention[name] = n
		}
	}
	body := map[string]any{"status": "ready"}
	if len(attention) > 0 {
		body["attention"] = attention
	}
	if len(failing) > 0 {
		body["status"], body["failing"] = "not ready", failing
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

var landingPage = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ShopMesh</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}
li{margin:.6rem 0}small{color:#666}</style></head><body>
<h1>ShopMesh</h1>
<p>An e-commerce shop built from services that talk only through NATS JetStream events.</p>
<ul>{{range .Services}}<li><b>{{.Title}}</b> <small>{{.Prefix}}</small><br>{{.Description}}<br>
<a href="{{.Prefix}}/docs">try it</a> · <a href="{{.Prefix}}/openapi.json">openapi.json</a> · <a href="{{.Prefix}}/openapi.yaml">openapi.yaml</a></li>{{end}}
</ul>
{{if .AsyncAPI}}<p><b>Events</b>: what every service publishes and reacts to, through which durable consumer:
<a href="/asyncapi.json">asyncapi.json</a> · <a href="/asyncapi.yaml">asyncapi.yaml</a></p>{{end}}
<p><a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a></p>
</body></html>`))

// Links are what the landing page links: every service's docs and
// OpenAPI documents, and whether the AsyncAPI document is served.
type Links struct {
	Services []ServiceDoc
	AsyncAPI bool
}

// Links returns what the landing page links, for a home page of its own.
func (h *HTTP) Links() Links { return Links{Services: h.services, AsyncAPI: h.asyncAPI} }

// Home serves / with home instead of the landing page: the console, in
// the process that runs the whole shop.
func (h *HTTP) Home(home http.Handler) { h.home = home }

func (h *HTTP) landing(w http.ResponseWriter, r *http.Request) {
	if h.home != nil {
		h.home.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = landingPage.Execute(w, h.Links())
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap gives streaming handlers (Server-Sent Events) the connection's
// own writer, to flush each event and set write deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// SetWriteDeadline is what a stream of changes sets before each event
// (Huma's SSE finds it here, on the writer it is given). On a connection
// already closed it is no error: the closed connection has ended the
// request's context, which ends the stream, and Huma, which would print
// this error to stderr outside the logs, is not told.
func (s *statusRecorder) SetWriteDeadline(t time.Time) error {
	err := http.NewResponseController(s.ResponseWriter).SetWriteDeadline(t)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// requestLevel logs a server error as an error, a change at info, and
// reads and probes at debug: clients that poll must not flood the log. A
// /readyz 503 says "not ready yet", which is not an error.
func requestLevel(r *http.Request, status int) zerolog.Level {
	probe := strings.HasPrefix(r.URL.Path, "/healthz") || strings.HasPrefix(r.URL.Path, "/readyz")
	switch {
	case probe:
		return zerolog.DebugLevel
	case status >= 500:
		return zerolog.ErrorLevel
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return zerolog.DebugLevel
	}
	return zerolog.InfoLevel
}

func (h *HTTP) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		h.metrics.ObserveHTTP(r.Method, r.Pattern, rec.status, time.Since(start))
		h.log.WithLevel(requestLevel(r, rec.status)).Str("method", r.Method).Str("path", r.URL.Path).Str("trace_id", observe.TraceID(r.Context())).
			Int("status", rec.status).Int("bytes", rec.bytes).Float64("duration_ms", observe.Millis(time.Since(start))).Msg("http")
	})
}

// traceRequests runs each request in a server span that continues the
// caller's trace (its traceparent header) or starts one, and answers with
// the traceparent, so a client can find its request's trace.
func (h *HTTP) traceRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := observe.WithRemoteParent(r.Context(), r.Header.Get("traceparent"))
		ctx, span := h.tracing.Start(ctx, "HTTP "+r.Method, trace.SpanKindServer)
		defer span.End()
		w.Header().Set("traceparent", observe.TraceParent(ctx))
		r = r.WithContext(ctx)
		next.ServeHTTP(w, r)
		if r.Pattern != "" {
			span.SetName(r.Pattern)
		}
	})
}

// Unavailable is the problem for a Retryable error of service: 503, with
// a Retry-After, so that clients retry (with the same idempotency key)
// instead of treating it as a failure of their own.
func Unavailable(service string) error {
	return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable(service+" cannot take writes right now; try again"),
		http.Header{"Retry-After": {"1"}})
}

// Internal is the answer to an error that none of a service's rules
// names: its own failure. The client gets a bare 500, so the cause is
// logged here, where it is known, with the request's trace id.
func Internal(ctx context.Context, log zerolog.Logger, err error) error {
	log.Error().Err(err).Str("trace_id", observe.TraceID(ctx)).Msg("internal error")
	return huma.Error500InternalServerError("internal error")
}
