// Package console is the ShopMesh console: the web page served at / by the
// process that runs the whole shop. Customers shop on it; anyone watches
// the choreography move between the services; the admin changes the
// catalog and stock, refunds and redrives dead letters. Its page talks to
// the services' own HTTP APIs; what no service serves (the events of every
// stream, the consumers' counts, the dead letters) it serves itself, from
// JetStream, under /console.
package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
)

//go:embed web
var web embed.FS

// page is the console's one HTML page. The links to every service's docs
// and documents are written into it here, so they work without scripts.
var page = template.Must(template.ParseFS(web, "web/index.html"))

// Options are what the console needs from the process that serves it.
type Options struct {
	// JS reads every stream, the durable consumers' counts and the dead
	// letters, and redrives them: the operator's connection (ADR 18).
	JS jetstream.JetStream
	// Plans are the services' plans, from which the console draws the
	// mesh: who reacts to whose events through which consumer.
	Plans []mesh.Plan
	// Tokens issues customer tokens to those who sign up.
	Tokens *httpapi.CustomerTokens
	// Demo opens the demo shop to anyone: anyone may sign up as a new
	// customer and follow the mesh's feed. Elsewhere the feed is the
	// admin's, and customers get their tokens from the admin.
	Demo bool
	// SlowPayments offers the slow gateway's token.
	SlowPayments bool
	// TraceURL links an order's trace: a URL in which {traceId} is
	// replaced by the trace's id. Empty: no link.
	TraceURL string
	Log      zerolog.Logger
}

// Console serves the page and its API.
type Console struct {
	opts  Options
	graph graph
	links httpapi.Links
	// backlog is how many of each stream's latest events a new follower
	// of the feed gets first, so a page opened after an order shows it.
	backlog uint64
	// buffer bounds what one follower of the feed may fall behind by.
	buffer int
}

// Register serves the console on h: its page at /, its assets under
// /console/assets/, and its API under /console with a document of its own.
// Call it after every service has registered its API, so the page links
// them all.
func Register(h *httpapi.HTTP, o Options) *Console {
	c := &Console{opts: o, graph: newGraph(o.Plans), backlog: 50, buffer: 256}
	api := h.API(httpapi.ServiceDoc{
		Prefix: "/console", Title: "ShopMesh console", Problems: problems,
		Description: "What the console's page reads that no service serves: every event of the mesh as it " +
			"happens, the consumers of every reaction, the dead letters, and the demo shop's sign-up.",
	})
	c.register(api, h.Followers())
	c.links = h.Links()
	assets, _ := fs.Sub(web, "web")
	h.Mux().Handle("GET /console/assets/", http.StripPrefix("/console/assets/", scriptsAndStyles(http.FileServerFS(assets))))
	h.Home(http.HandlerFunc(c.home))
	return c
}

// problems are examples of the console's errors, for its document.
var problems = []httpapi.Problem{
	{Status: http.StatusForbidden, Detail: "sign-up is open only in the demo shop (shopmesh run --demo)"},
	{Status: http.StatusNotFound, Detail: "no such dead letter: 7"},
	{Status: http.StatusConflict, Detail: "redrive failed: the reaction failed again"},
	{Status: http.StatusServiceUnavailable, Detail: "JetStream did not answer; try again"},
}

// scriptsAndStyles serves the page's scripts and styles, and nothing else
// of web/ (the page's template is served at / only). A browser asks again
// for them each time: they change with the binary, which has no version
// in their names.
func scriptsAndStyles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".js") && !strings.HasSuffix(r.URL.Path, ".css") {
			httpapi.WriteProblem(w, http.StatusNotFound, "no such asset")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

func (c *Console) home(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	_ = page.Execute(w, c.links)
}

func (c *Console) register(api huma.API, followers *httpapi.Followers) {
	tags := []string{"console"}
	huma.Register(api, huma.Operation{
		OperationID: "getConsoleSettings", Method: http.MethodGet, Path: "/console/settings",
		Summary: "What the page offers", Description: "The services and the edges between them (who reacts to " +
			"whose events, through which consumer), the payment tokens the shop knows, whether anyone may sign up, " +
			"and the trace link.",
		Tags: tags, Errors: []int{http.StatusServiceUnavailable},
	}, c.settings)
	c.registerCustomers(api, tags)
	c.registerFeed(api, followers, tags)
	c.registerConsumers(api, tags)
}

// PaymentChoice is a payment token the page offers.
type PaymentChoice struct {
	Token string `json:"token" example:"tok_visa"`
	Label string `json:"label" example:"tok_visa: the card pays"`
}

// Settings are what the page offers.
type Settings struct {
	Services []string        `json:"services" example:"[\"products\",\"inventory\",\"orders\",\"payments\"]"`
	Edges    []Edge          `json:"edges"`
	Payments []PaymentChoice `json:"payments"`
	SignUp   bool            `json:"signUp" doc:"Whether this is the demo shop, where anyone may sign up (POST /console/customers) and follow the mesh's events."`
	TraceURL string          `json:"traceUrl,omitempty" doc:"A trace's page, with {traceId} to replace." example:"http://localhost:16686/trace/{traceId}"`
}

type settingsOutput struct{ Body Settings }

func (c *Console) settings(context.Context, *struct{}) (*settingsOutput, error) {
	pays := []PaymentChoice{{Token: "tok_visa", Label: "tok_visa: the card pays"},
		{Token: "tok_chargeDeclined", Label: "tok_chargeDeclined: declined"}}
	if c.opts.SlowPayments {
		pays = append(pays, PaymentChoice{Token: "tok_slow", Label: "tok_slow: a slow gateway"})
	}
	return &settingsOutput{Body: Settings{
		Services: c.graph.services, Edges: c.graph.edges, Payments: pays, SignUp: c.opts.Demo, TraceURL: c.opts.TraceURL,
	}}, nil
}

// timeout bounds what the console asks of JetStream for one request.
const timeout = 5 * time.Second
