package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/console"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// The feed's service filter takes the services of the plans the console
// is given, whichever they are: a service the shop did not have before is
// offered in the document and followed, and a name no plan has is a
// problem, not an empty feed.
func TestTheFeedFiltersByTheServicesOfThePlans(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	ctx := meshtest.Context(t)
	plans := []mesh.Plan{
		{Service: "shipping", Writes: mesh.StreamSpec{Name: "SHIPPING", Subjects: []string{"shipping.>"}}},
		{Service: "returns", Writes: mesh.StreamSpec{Name: "RETURNS", Subjects: []string{"returns.>"}}},
	}
	if err := mesh.Provision(ctx, n.JS, n.Storage, n.Reactions, plans...); err != nil {
		t.Fatal(err)
	}
	console.Register(n.HTTP, console.Options{JS: n.JS, Plans: plans, Demo: true, Log: n.Log})
	srv := httptest.NewServer(n.HTTP.Handler())
	defer srv.Close()

	t.Run("the document lists them", func(t *testing.T) {
		var doc struct {
			Paths map[string]map[string]struct {
				Parameters []struct {
					Name   string
					Schema struct{ Enum []string }
				}
			}
		}
		getJSON(t, srv.URL+"/console/openapi.json", &doc)
		var enum []string
		for _, p := range doc.Paths["/console/events"]["get"].Parameters {
			if p.Name == "service" {
				enum = p.Schema.Enum
			}
		}
		if !slices.Equal(enum, []string{"shipping", "returns"}) {
			t.Fatalf("service enum %q, want the plans' services", enum)
		}
	})

	t.Run("one of them is followed", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		resp := get(t, ctx, srv.URL+"/console/events?service=shipping", "text/event-stream")
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET ?service=shipping: %s", resp.Status)
		}
		var watching console.FeedWatching
		if err := json.Unmarshal(firstData(t, resp), &watching); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(watching.Streams, []string{"SHIPPING"}) {
			t.Fatalf("watching %q, want SHIPPING alone", watching.Streams)
		}
	})

	t.Run("another name is a problem", func(t *testing.T) {
		resp := get(t, ctx, srv.URL+"/console/events?service=orders", "text/event-stream")
		defer resp.Body.Close()
		var problem struct {
			Status int
			Errors []struct{ Message, Location string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&problem); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("GET ?service=orders: %s %s, want a 422 problem", resp.Status, resp.Header.Get("Content-Type"))
		}
		if len(problem.Errors) != 1 || problem.Errors[0].Location != "query.service" ||
			!strings.Contains(problem.Errors[0].Message, "shipping") || !strings.Contains(problem.Errors[0].Message, "returns") {
			t.Fatalf("problem %+v does not name the services it takes", problem)
		}
	})
}

func get(t *testing.T, ctx context.Context, url, accept string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp := get(t, meshtest.Context(t), url, "application/json")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// firstData is the data of the first event of a Server-Sent Events stream.
func firstData(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			return []byte(data)
		}
	}
	t.Fatalf("the stream ended without an event: %v", lines.Err())
	return nil
}
