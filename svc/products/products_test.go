package products_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/schemas"
	"github.com/shopmesh/shopmesh/svc/products"
	"github.com/shopmesh/shopmesh/svc/products/api"
)

func start(t *testing.T) (*meshtest.Client, func() int) {
	t.Helper()
	n := meshtest.Node(t)
	svc := products.New()
	meshtest.Start(t, n, svc)
	c := meshtest.Serve(t, n)
	// count validates every event in the stream against its schema and
	// returns how many there are.
	count := func() int {
		v, err := schemas.NewValidator()
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.ValidateStream(meshtest.Context(t), n.JS, events.ProductsStream)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	return c, count
}

func mug(sku string) map[string]any {
	return map[string]any{
		"sku": sku, "name": "Item " + sku, "description": "white, 350 ml",
		"price": map[string]any{"amount": 1299, "currency": "EUR"},
	}
}

func create(t *testing.T, c *meshtest.Client, sku string) api.Product {
	t.Helper()
	var p api.Product
	r := c.Do(http.MethodPost, "/products", mug(sku), meshtest.Admin()).Expect(http.StatusCreated)
	r.Decode(&p)
	if r.Header.Get("Location") != "/products/"+p.ID || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("create headers: %v", r.Header)
	}
	return p
}

func TestProductLifecycle(t *testing.T) {
	t.Parallel()
	c, count := start(t)
	p := create(t, c, "MUG-1")
	if p.SKU != "MUG-1" || p.Price.Amount != 1299 || p.Version != 1 || p.CreatedAt.IsZero() {
		t.Fatalf("created %+v", p)
	}

	var got api.Product
	c.Do(http.MethodGet, "/products/"+p.ID, nil, nil).Expect(http.StatusOK).Decode(&got)
	if got.ID != p.ID || got.Name != "Item MUG-1" {
		t.Fatalf("read back %+v", got)
	}

	changed := mug("MUG-1B")
	changed["name"] = "Big mug"
	h := meshtest.Admin()
	h.Set("If-Match", `"1"`)
	c.Do(http.MethodPut, "/products/"+p.ID, changed, h).Expect(http.StatusOK).Decode(&got)
	if got.Name != "Big mug" || got.SKU != "MUG-1B" || got.Version != 2 {
		t.Fatalf("updated %+v", got)
	}
	// The old sku is free again.
	create(t, c, "MUG-1")

	c.Do(http.MethodPut, "/products/"+p.ID, changed, h).Problem(http.StatusPreconditionFailed)
	c.Do(http.MethodDelete, "/products/"+p.ID, nil, h).Problem(http.StatusPreconditionFailed)
	// A tag that is not one of ours, or weak, never matches (RFC 9110).
	for _, tag := range []string{`"abc"`, `abc`, `W/"2"`, `"0"`} {
		h.Set("If-Match", tag)
		c.Do(http.MethodDelete, "/products/"+p.ID, nil, h).Problem(http.StatusPreconditionFailed)
	}
	h.Set("If-Match", `W/"1", "2"`) // a list: its strong tag is the one
	c.Do(http.MethodPut, "/products/"+p.ID, changed, h).Expect(http.StatusOK)
	h.Set("If-Match", `"3"`)
	c.Do(http.MethodDelete, "/products/"+p.ID, nil, h).Expect(http.StatusNoContent)
	c.Do(http.MethodGet, "/products/"+p.ID, nil, nil).Problem(http.StatusNotFound)
	c.Do(http.MethodDelete, "/products/"+p.ID, nil, meshtest.Admin()).Problem(http.StatusNotFound)

	if n := count(); n != 5 {
		t.Fatalf("%d events in PRODUCTS, want 5 (created, updated, created, updated, deleted)", n)
	}
}

func TestListPagesAndSearches(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	for _, sku := range []string{"MUG-1", "MUG-2", "CUP-1", "MUG-3", "PLATE-1"} {
		create(t, c, sku)
	}
	type page struct {
		Items      []api.Product `json:"items"`
		NextCursor string        `json:"nextCursor"`
	}
	var skus []string
	cursor := ""
	for pages := 0; ; pages++ {
		var p page
		c.Do(http.MethodGet, "/products?q=mug&limit=2&cursor="+cursor, nil, nil).Expect(http.StatusOK).Decode(&p)
		for _, it := range p.Items {
			skus = append(skus, it.SKU)
		}
		if p.NextCursor == "" {
			break
		}
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		cursor = p.NextCursor
	}
	if strings.Join(skus, ",") != "MUG-1,MUG-2,MUG-3" {
		t.Fatalf("search for mug paged to %v", skus)
	}
	var all page
	c.Do(http.MethodGet, "/products", nil, nil).Expect(http.StatusOK).Decode(&all)
	if len(all.Items) != 5 || all.NextCursor != "" {
		t.Fatalf("list all: %d items, cursor %q", len(all.Items), all.NextCursor)
	}
	c.Do(http.MethodGet, "/products?cursor=***", nil, nil).Problem(http.StatusBadRequest)
	c.Do(http.MethodGet, "/products?limit=0", nil, nil).Problem(http.StatusUnprocessableEntity)
	c.Do(http.MethodGet, "/products?limit=1000", nil, nil).Problem(http.StatusUnprocessableEntity)
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	c, count := start(t)
	existing := create(t, c, "TAKEN")
	with := func(edit func(map[string]any)) map[string]any {
		m := mug("NEW-1")
		edit(m)
		return m
	}
	cases := []struct {
		name     string
		body     any
		header   http.Header
		status   int
		location string
	}{
		{"no token", mug("NEW-1"), nil, http.StatusUnauthorized, ""},
		{"wrong token", mug("NEW-1"), http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized, ""},
		{"missing sku", with(func(m map[string]any) { delete(m, "sku") }), meshtest.Admin(), 422, "body.sku"},
		{"missing price", with(func(m map[string]any) { delete(m, "price") }), meshtest.Admin(), 422, "body.price"},
		{"empty name", with(func(m map[string]any) { m["name"] = "" }), meshtest.Admin(), 422, "body.name"},
		{"blank name", with(func(m map[string]any) { m["name"] = "  " }), meshtest.Admin(), 422, "body.name"},
		{"invisible name", with(func(m map[string]any) { m["name"] = "\u200b\u200b\u200b" }), meshtest.Admin(), 422, "body.name"},
		{"name of joiners and a byte-order mark", with(func(m map[string]any) { m["name"] = " \u200d\ufeff " }), meshtest.Admin(), 422, "body.name"},
		{"negative price", with(func(m map[string]any) { m["price"] = map[string]any{"amount": -5, "currency": "EUR"} }), meshtest.Admin(), 422, "body.price.amount"},
		{"fractional price", with(func(m map[string]any) { m["price"] = map[string]any{"amount": 12.5, "currency": "EUR"} }), meshtest.Admin(), 422, "body.price.amount"},
		{"bad currency", with(func(m map[string]any) { m["price"] = map[string]any{"amount": 5, "currency": "euro"} }), meshtest.Admin(), 422, "body.price.currency"},
		{"unknown currency", with(func(m map[string]any) { m["price"] = map[string]any{"amount": 5, "currency": "QQQ"} }), meshtest.Admin(), 422, "body.price.currency"},
		{"unknown field", with(func(m map[string]any) { m["colour"] = "red" }), meshtest.Admin(), 422, "body.colour"},
		{"bad sku", with(func(m map[string]any) { m["sku"] = "has space" }), meshtest.Admin(), 422, "body.sku"},
		{"not json", "{nope", meshtest.Admin(), http.StatusBadRequest, ""},
		{"oversized", `{"sku":"` + strings.Repeat("x", 70<<10) + `"}`, meshtest.Admin(), http.StatusRequestEntityTooLarge, ""},
		{"duplicate sku", mug("TAKEN"), meshtest.Admin(), http.StatusConflict, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := c.Do(http.MethodPost, "/products", tc.body, tc.header).Problem(tc.status)
			if tc.location != "" && !p.Names(tc.location) {
				t.Fatalf("problem does not name %s: %+v", tc.location, p)
			}
		})
	}
	c.Do(http.MethodPut, "/products/"+existing.ID, with(func(m map[string]any) { m["price"] = "free" }), meshtest.Admin()).Problem(422)
	c.Do(http.MethodPut, "/products/nope", mug("X-1"), meshtest.Admin()).Problem(http.StatusNotFound)
	c.Do(http.MethodGet, "/products/bad*id", nil, nil).Problem(422)
	c.Do(http.MethodPatch, "/products/"+existing.ID, nil, nil).Problem(http.StatusMethodNotAllowed)
	c.Do(http.MethodGet, "/nowhere", nil, nil).Problem(http.StatusNotFound)
	if n := count(); n != 1 {
		t.Fatalf("%d events after bad input, want only the first product's", n)
	}
}

// A name is kept as a catalog keeps it: composed (NFC), so that "Café"
// typed with a combining accent is the name typed with "é", and without
// the spaces and zero-width characters around it (issue 19, the fourth
// finding).
func TestNamesAreKeptTidy(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	body := mug("CAFE-1")
	body["name"] = " \u200bCafe\u0301 au lait\u200b "
	body["description"] = "\u200bstrong\n"
	var p api.Product
	c.Do(http.MethodPost, "/products", body, meshtest.Admin()).Expect(http.StatusCreated).Decode(&p)
	if p.Name != "Caf\u00e9 au lait" || p.Description != "strong" {
		t.Fatalf("kept name %q, description %q; want %q and %q", p.Name, p.Description, "Caf\u00e9 au lait", "strong")
	}
}

func TestConcurrentCreatesKeepSKUsUnique(t *testing.T) {
	t.Parallel()
	c, count := start(t)
	const tries = 8
	statuses := make(chan int, tries)
	for range tries {
		go func() {
			statuses <- c.Do(http.MethodPost, "/products", mug("RACE"), meshtest.Admin()).Status
		}()
	}
	created := 0
	for range tries {
		switch s := <-statuses; s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if created != 1 || count() != 1 {
		t.Fatalf("%d created, want exactly 1", created)
	}
}

func TestDocsAndSpec(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	spec := c.Do(http.MethodGet, "/products/openapi.json", nil, nil).Expect(http.StatusOK)
	for _, want := range []string{`"openapi":"3.1`, `"bearer"`, `"/products/{id}"`} {
		if !strings.Contains(string(spec.Body), want) {
			t.Errorf("spec lacks %s", want)
		}
	}
	c.Do(http.MethodGet, "/products/openapi.yaml", nil, nil).Expect(http.StatusOK)
	docs := c.Do(http.MethodGet, "/products/docs", nil, nil).Expect(http.StatusOK)
	if strings.Contains(string(docs.Body), "cdn") || strings.Contains(string(docs.Body), "unpkg") {
		t.Error("docs page loads from a CDN")
	}
	if !strings.Contains(string(docs.Body), "/products/openapi.json") {
		t.Error("docs page does not point at the spec")
	}
	// Every script and style the page needs comes from this server.
	assets := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(string(docs.Body), -1)
	if len(assets) < 3 {
		t.Fatalf("docs page links %d local assets", len(assets))
	}
	for _, a := range assets {
		c.Do(http.MethodGet, a[1], nil, nil).Expect(http.StatusOK)
	}
	c.Do(http.MethodGet, "/healthz", nil, nil).Expect(http.StatusOK)
	c.Do(http.MethodGet, "/readyz", nil, nil).Expect(http.StatusOK)
	landing := c.Do(http.MethodGet, "/", nil, nil).Expect(http.StatusOK)
	if !strings.Contains(string(landing.Body), "/products/docs") {
		t.Error("landing page does not link the docs")
	}
}
