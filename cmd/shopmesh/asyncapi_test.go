package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/schemas"
)

// schemas/asyncapi.json is the plans as they are now (go generate ./...
// rewrites it).
func TestAsyncAPIFileIsCurrent(t *testing.T) {
	t.Parallel()
	want, err := asyncAPI(defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	got, err := schemas.CheckedAsyncAPI()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("schemas/asyncapi.json is stale: run go generate ./...")
	}
}

// Every durable consumer of every plan is in the document: a receive
// operation of its service for each channel its filters match.
func TestAsyncAPIListsEveryReaction(t *testing.T) {
	t.Parallel()
	data, err := asyncAPI(defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Operations map[string]struct {
			Action  string
			Tags    []struct{ Name string }
			Durable struct{ Name, Stream string } `json:"x-shopmesh-durable"`
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range allPlans(defaultConfig()) {
		for _, d := range p.Durables {
			found := 0
			for _, op := range doc.Operations {
				if op.Action == "receive" && op.Durable.Name == d.Name {
					found++
					if op.Durable.Stream != d.Stream || len(op.Tags) != 1 || op.Tags[0].Name != p.Service {
						t.Errorf("%s: receive operation %+v", d.Name, op)
					}
				}
			}
			if found < len(d.Subjects) {
				t.Errorf("%s of %s: %d receive operations for %d filters", d.Name, p.Service, found, len(d.Subjects))
			}
		}
	}
}

// The shop serves the document as JSON and YAML, and its landing page
// links them.
func TestAsyncAPIIsServed(t *testing.T) {
	t.Parallel()
	_, c := ephemeralShop(t)
	want, _ := schemas.CheckedAsyncAPI()
	if got := c.Do(http.MethodGet, "/asyncapi.json", nil, nil).Expect(http.StatusOK).Body; !bytes.Equal(got, want) {
		t.Error("/asyncapi.json is not the document")
	}
	yaml := string(c.Do(http.MethodGet, "/asyncapi.yaml", nil, nil).Expect(http.StatusOK).Body)
	for _, line := range []string{"asyncapi: 3.0.0", "    action: receive", "      name: inventory-on-orders"} {
		if !strings.Contains(yaml, line+"\n") {
			t.Errorf("/asyncapi.yaml lacks %q", line)
		}
	}
	landing := string(c.Do(http.MethodGet, "/", nil, nil).Expect(http.StatusOK).Body)
	for _, link := range []string{`href="/asyncapi.json"`, `href="/asyncapi.yaml"`} {
		if !strings.Contains(landing, link) {
			t.Errorf("landing page lacks %s", link)
		}
	}
}
