package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// sseEvent is one event of a text/event-stream.
type sseEvent struct {
	name string
	data json.RawMessage
}

// openStream follows a Server-Sent Events stream until ctx ends. It
// returns once the stream's first event (its "watching") has arrived, so
// what happens after it is in the stream.
func openStream(t *testing.T, ctx context.Context, client *http.Client, url string, header http.Header) <-chan sseEvent {
	t.Helper()
	stream, err := dialStream(ctx, client, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// dialStream is openStream for any goroutine: it returns what went wrong.
func dialStream(ctx context.Context, client *http.Client, url string, header http.Header) (<-chan sseEvent, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := make(chan sseEvent, 1024)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		readEvents(resp, func(name string, data []byte) {
			select {
			case out <- sseEvent{name, data}:
			case <-ctx.Done():
			}
		})
	}()
	select {
	case first, ok := <-out:
		if !ok || first.name != "watching" {
			return nil, fmt.Errorf("GET %s began with %+v", url, first)
		}
		return out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("GET %s: no first event", url)
	}
}

// feedEvent is an event of GET /console/events.
type feedEvent struct {
	Subject, Service, OrderID, ID, CausationID string
	To                                         []string
}

// The mesh's feed sends every event of an order's saga, from every
// service, with the services each travels to; filtered by order, only
// that order's.
func TestTheMeshFeedShowsTheSaga(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 500, 5)
	ctx := meshtest.Context(t)
	all := openStream(t, ctx, http.DefaultClient, m.shop.httpURL+"/console/events", meshtest.Admin())
	id := m.place("fed", "tok_visa", line{mug, 1})
	other := m.place("other", "tok_visa", line{mug, 1})
	m.awaitTerminal(id)
	m.awaitTerminal(other)
	mine := openStream(t, ctx, http.DefaultClient, m.shop.httpURL+"/console/events?order="+id, meshtest.Admin())

	want := map[string][]string{
		"orders.order." + id + ".placed":             {"inventory"},
		"inventory.reservation." + id + ".accepted":  {"orders"},
		"orders.order." + id + ".stock_reserved":     {"payments"},
		"payments.payment." + id + ".captured":       {"orders"},
		"orders.order." + id + ".confirmed":          {"inventory"},
		"inventory.reservation." + id + ".committed": {},
	}
	seen := awaitFeed(t, all, func(e feedEvent) bool { return e.OrderID == id }, len(want)+2) // and two stock events
	for subject, to := range want {
		e, ok := seen[subject]
		if !ok {
			t.Errorf("the feed lacks %s; has %v", subject, keys(seen))
			continue
		}
		if fmt.Sprint(e.To) != fmt.Sprint(to) {
			t.Errorf("%s goes to %v, want %v", subject, e.To, to)
		}
	}
	if placed := seen["orders.order."+id+".placed"]; seen["inventory.reservation."+id+".accepted"].CausationID != placed.ID {
		t.Errorf("the acceptance's cause is %q, not the placement %q", seen["inventory.reservation."+id+".accepted"].CausationID, placed.ID)
	}
	// The latest events of each stream come first: the filtered feed,
	// opened after the sagas ended, has this order's, and no other's.
	only := awaitFeed(t, mine, func(feedEvent) bool { return true }, len(want)+2)
	for subject, e := range only {
		if e.OrderID != id {
			t.Errorf("the feed of order %s sent %s, of order %s", id, subject, e.OrderID)
		}
	}
}

// awaitFeed reads events until n of them pass keep, and returns those by
// subject.
func awaitFeed(t *testing.T, stream <-chan sseEvent, keep func(feedEvent) bool, n int) map[string]feedEvent {
	t.Helper()
	seen := map[string]feedEvent{}
	deadline := time.After(30 * time.Second)
	for len(seen) < n {
		select {
		case ev, ok := <-stream:
			if !ok {
				t.Fatalf("the feed ended after %v", keys(seen))
			}
			var e feedEvent
			if ev.name != "event" || json.Unmarshal(ev.data, &e) != nil || !keep(e) {
				continue
			}
			seen[e.Subject] = e
		case <-deadline:
			t.Fatalf("the feed sent only %v", keys(seen))
		}
	}
	return seen
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A hundred clients of the console's streams (the mesh's feed, stock and
// orders, a third of them each) come and go, and leave nothing behind:
// no goroutine in this process (the embedded server's included), none of
// the console's, and no consumer on the server. It does not run in
// parallel, so that the goroutines it counts are its shop's.
func TestAHundredClientsOfTheStreamsLeaveNothingBehind(t *testing.T) {
	cfg := sagaConfig(t)
	cfg.MaxConnections = 500      // whatever the machine's file-descriptor limit makes of the default
	cfg.FollowersPerAddress = 100 // they all come from 127.0.0.1
	m := openMall(t, cfg)
	mug := m.product("MUG", 500, 1000)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	follow := func(n int) {
		ctx, cancel := context.WithCancel(meshtest.Context(t))
		defer cancel()
		errs := make(chan error, n)
		var wg sync.WaitGroup
		paths := []string{"/console/events", "/inventory/changes", "/orders/changes"}
		for i := range n {
			wg.Go(func() {
				_, err := dialStream(ctx, client, m.shop.httpURL+paths[i%len(paths)], meshtest.Admin())
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := m.consumers(); sum(got) < 4*(n+2)/3 {
			t.Fatalf("%d followers, and only %v consumers", n, got)
		}
		m.place(fmt.Sprint("while-followed-", n), "tok_visa", line{mug, 1}) // events for them all
	}
	before := m.consumers()
	released := func() error {
		if now := m.consumers(); !maps.Equal(now, before) {
			return fmt.Errorf("consumers on the server: %v, %v before the followers came", now, before)
		}
		return nil
	}
	follow(1) // what a first follower starts for good (connections, pools)
	meshtest.Eventually(t, 30*time.Second, released)
	goroutines := runtime.NumGoroutine()
	follow(100)
	meshtest.Eventually(t, 30*time.Second, func() error {
		if err := released(); err != nil {
			return err
		}
		if s := stacks("console.(*Console)", "console.(*follower)"); s != "" {
			return fmt.Errorf("goroutines of the console are left:\n%s", s)
		}
		if now := runtime.NumGoroutine(); now > goroutines+5 {
			return fmt.Errorf("%d goroutines, %d before the followers came", now, goroutines)
		}
		return nil
	})
}

// consumers counts each stream's consumers on the server.
func (m *mall) consumers() map[string]int {
	m.t.Helper()
	ctx := meshtest.Context(m.t)
	now := map[string]int{}
	for _, name := range []string{events.ProductsStream, events.InventoryStream, events.OrdersStream, events.PaymentsStream} {
		s, err := m.js.Stream(ctx, name)
		if err != nil {
			m.t.Fatal(err)
		}
		now[name] = s.CachedInfo().State.Consumers
	}
	return now
}

func sum(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// stacks are the goroutines whose stacks name any of parts.
func stacks(parts ...string) string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	var out []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		for _, p := range parts {
			if strings.Contains(g, p) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}

// Anyone may sign up on the demo shop's console, and gets a customer no
// one had before: a token for an existing customer still needs the
// admin. Anyone may follow its mesh's events too. Elsewhere sign-up is
// closed and the events are the admin's.
func TestSignUpMakesANewCustomerOnlyInTheDemoShop(t *testing.T) {
	t.Parallel()
	_, closed := ephemeralShop(t)
	closed.Do(http.MethodPost, "/console/customers", map[string]any{"name": "Alice"}, meshtest.Anonymous()).Problem(http.StatusForbidden)
	closed.Do(http.MethodGet, "/console/events", nil, meshtest.Anonymous()).Problem(http.StatusUnauthorized)

	cfg := sagaConfig(t)
	cfg.Demo = true
	m := openMall(t, cfg)
	anyone := meshtest.NewClient(t, m.shop.httpURL)
	signUp := func(name string) *meshtest.Client {
		var c struct{ CustomerID, Token string }
		anyone.Do(http.MethodPost, "/console/customers", map[string]any{"name": name}, nil).Expect(http.StatusCreated).Decode(&c)
		if !strings.HasPrefix(c.CustomerID, strings.ToLower(strings.ReplaceAll(name, " ", "-"))+"-") {
			t.Fatalf("%s signed up as %q", name, c.CustomerID)
		}
		client := meshtest.NewClient(t, m.shop.httpURL)
		client.Header = http.Header{"Authorization": {"Bearer " + c.Token}}
		return client
	}
	openStream(t, meshtest.Context(t), http.DefaultClient, m.shop.httpURL+"/console/events", nil)
	alice, otherAlice := signUp("Alice"), signUp("Alice")
	anyone.Do(http.MethodPost, "/console/customers", map[string]any{"name": "Al!ce"}, nil).Problem(http.StatusUnprocessableEntity)

	var o struct{ ID, CustomerID string }
	alice.Do(http.MethodPost, "/orders", orderBody("", "tok_visa", line{m.demoProduct("DEMO-MUG"), 1}), nil).Expect(http.StatusAccepted).Decode(&o)
	otherAlice.Do(http.MethodGet, "/orders/"+o.ID, nil, nil).Problem(http.StatusNotFound)
	alice.Do(http.MethodPost, "/orders/customer-tokens", map[string]any{"customerId": "alice"}, nil).Problem(http.StatusUnauthorized)
	if o.CustomerID == "alice" {
		t.Fatal("signing up as Alice gave the token of the existing customer alice")
	}
}

// demoProduct is the id of the demo catalog's product of sku.
func (m *mall) demoProduct(sku string) string {
	m.t.Helper()
	for _, p := range m.catalog() {
		if p.SKU == sku {
			return p.ID
		}
	}
	m.t.Fatalf("no %s in the catalog", sku)
	return ""
}

type catalogItem struct{ ID, SKU string }

func (m *mall) catalog() []catalogItem {
	m.t.Helper()
	var page struct{ Items []catalogItem }
	m.http.Do(http.MethodGet, "/products?limit=100", nil, nil).Expect(http.StatusOK).Decode(&page)
	return page.Items
}

// run --demo fills an empty shop's catalog, once: a second start on the
// same data neither fails nor adds the products again, nor resets the
// stock they have since.
func TestTheDemoCatalogIsAddedOnce(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	cfg.Demo = true
	m := openMall(t, cfg)
	if n := len(m.catalog()); n != len(demoCatalog) {
		t.Fatalf("%d products in the demo shop, want %d", n, len(demoCatalog))
	}
	mug := m.demoProduct("DEMO-MUG")
	m.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 3}, nil).Expect(http.StatusOK)
	m.restart(cfg)
	if n := len(m.catalog()); n != len(demoCatalog) {
		t.Fatalf("%d products after a second start, want %d", n, len(demoCatalog))
	}
	if s := m.stock(mug); s.OnHand != 3 {
		t.Fatalf("the second start set the mug's stock back to %d", s.OnHand)
	}
}

// The console shows each reaction's consumer and the dead letters' count
// to anyone; the letters and their redrive only to the admin.
func TestTheConsoleShowsConsumersAndDeadLettersToTheAdmin(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	m.publishPoison()
	anyone := meshtest.NewClient(t, m.shop.httpURL)
	var seen struct {
		Consumers   []struct{ Name string }
		DeadLetters int
	}
	meshtest.Eventually(t, 30*time.Second, func() error {
		anyone.Do(http.MethodGet, "/console/consumers", nil, meshtest.Anonymous()).Expect(http.StatusOK).Decode(&seen)
		if seen.DeadLetters < 2 { // the orders' projection and inventory's reaction set it aside
			return fmt.Errorf("%d dead letters", seen.DeadLetters)
		}
		return nil
	})
	durables := 0
	for _, p := range allPlans(testConfig(t)) {
		durables += len(p.Durables)
	}
	if len(seen.Consumers) != durables {
		t.Errorf("consumers %+v, want the %d reactions'", seen.Consumers, durables)
	}
	anyone.Do(http.MethodGet, "/console/dead-letters", nil, meshtest.Anonymous()).Problem(http.StatusUnauthorized)
	var dead struct {
		Items []struct {
			Sequence uint64 `json:"sequence"`
			Consumer string
		}
	}
	m.http.Do(http.MethodGet, "/console/dead-letters", nil, nil).Expect(http.StatusOK).Decode(&dead)
	if len(dead.Items) < 2 {
		t.Fatalf("dead letters %+v, want the two set aside", dead.Items)
	}
	for _, d := range dead.Items {
		path := fmt.Sprintf("/console/dead-letters/%d/redrive", d.Sequence)
		anyone.Do(http.MethodPost, path, nil, meshtest.Anonymous()).Problem(http.StatusUnauthorized)
		// Still malformed: the reaction fails on it again; the projection's is kept to be read.
		m.http.Do(http.MethodPost, path, nil, nil).Problem(http.StatusConflict)
	}
	m.http.Do(http.MethodPost, "/console/dead-letters/999999/redrive", nil, nil).Problem(http.StatusNotFound)
}

// publishPoison stores a malformed order event, which the orders'
// projection and inventory's reaction set aside as dead letters.
func (m *mall) publishPoison() {
	m.t.Helper()
	poison := nats.NewMsg("orders.order.POISON.placed")
	poison.Data = []byte("{not json")
	poison.Header.Set(mesh.HeaderType, "shopmesh.orders.order.placed.v1")
	if _, err := m.js.PublishMsg(meshtest.Context(m.t), poison); err != nil {
		m.t.Fatal(err)
	}
}

// A process that runs only some services keeps the landing page: the
// console needs the whole shop.
func TestAProcessOfSomeServicesKeepsTheLandingPage(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Ephemeral, cfg.Services = true, []string{"products"}
	s := startTestShop(t, cfg)
	t.Cleanup(s.close)
	c := meshtest.NewClient(t, s.httpURL)
	page := string(c.Do(http.MethodGet, "/", nil, nil).Expect(http.StatusOK).Body)
	if !strings.Contains(page, "/products/docs") || strings.Contains(page, "console.js") {
		t.Fatalf("the landing page of a products process:\n%s", page)
	}
	c.Do(http.MethodGet, "/console/settings", nil, nil).Problem(http.StatusNotFound)
}

// The console links an order's trace only when traces are exported: a
// link to a trace that never left the process would lead nowhere.
func TestTheTraceLinkNeedsTracesExported(t *testing.T) {
	t.Parallel()
	for _, otlp := range []string{"", "http://127.0.0.1:9"} {
		cfg := testConfig(t)
		cfg.Ephemeral, cfg.OTLPEndpoint, cfg.TraceURL = true, otlp, "http://localhost:16686/trace/{traceId}"
		s := startTestShop(t, cfg)
		var settings struct{ TraceURL string }
		meshtest.NewClient(t, s.httpURL).Do(http.MethodGet, "/console/settings", nil, nil).Expect(http.StatusOK).Decode(&settings)
		s.close()
		if want := map[bool]string{true: cfg.TraceURL, false: ""}[otlp != ""]; settings.TraceURL != want {
			t.Errorf("with --otlp-endpoint %q the trace link is %q, want %q", otlp, settings.TraceURL, want)
		}
	}
}

// The console's page is served at / with the links of the landing page,
// and a policy that lets it load only its own scripts and styles; of its
// assets only those are served.
func TestTheConsolePageIsServedWithItsOwnAssetsOnly(t *testing.T) {
	t.Parallel()
	_, c := ephemeralShop(t)
	page := c.Do(http.MethodGet, "/", nil, nil).Expect(http.StatusOK)
	for _, want := range []string{"/console/assets/console.js", "/console/assets/console.css", "/orders/docs", "/console/openapi.json"} {
		if !strings.Contains(string(page.Body), want) {
			t.Errorf("the console's page lacks %s", want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	c.Do(http.MethodGet, "/console/assets/console.js", nil, nil).Expect(http.StatusOK)
	c.Do(http.MethodGet, "/console/assets/index.html", nil, nil).Problem(http.StatusNotFound)
}

// GET /inventory/changes streams a product's stock each time it changes,
// to anyone: a count set by the admin, then the hold of an order.
func TestStockChangesStreamEveryCount(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 500, 0)
	changes := openStream(t, meshtest.Context(t), http.DefaultClient, m.shop.httpURL+"/inventory/changes", meshtest.Anonymous())
	var seen []string
	// until reads the mug's stock changes until one shows want. The order
	// is placed only once the count set is seen: the bucket keeps one value
	// per key, so a count replaced before the watch delivered it is never
	// streamed (mesh.Views.Changes).
	until := func(want string) {
		for ev := range changes {
			var s struct {
				ProductID                   string
				OnHand, Reserved, Available int64
			}
			if ev.name != "stock" || json.Unmarshal(ev.data, &s) != nil || s.ProductID != mug {
				continue
			}
			seen = append(seen, fmt.Sprintf("%d/%d/%d", s.OnHand, s.Reserved, s.Available))
			if seen[len(seen)-1] == want {
				return
			}
		}
		t.Fatalf("stock streamed (on hand/reserved/available): %v, never %s", seen, want)
	}
	m.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 7}, nil).Expect(http.StatusOK)
	until("7/0/7")
	m.place("held", "tok_visa", line{mug, 2})
	until("7/2/5")
	if seen[0] != "7/0/7" {
		t.Fatalf("stock streamed (on hand/reserved/available): %v", seen)
	}
}
