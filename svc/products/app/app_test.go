package app_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/paging"
	"github.com/shopmesh/shopmesh/svc/products"
	"github.com/shopmesh/shopmesh/svc/products/app"
	"github.com/shopmesh/shopmesh/svc/products/domain"
	"github.com/shopmesh/shopmesh/svc/products/store"
)

// fixture is the catalog's application on an embedded JetStream, without
// its HTTP operations: the test calls the handlers itself. The writer is
// a real mesh.Writer, so the state behind it is the real store.
type fixture struct {
	t        *testing.T
	app      app.Application
	requests int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	n := meshtest.Node(t)
	ctx := meshtest.Context(t)
	plan := products.New().Plan()
	rt := meshtest.Open(t, n, plan)
	st, w, err := mesh.Project(ctx, rt, store.New)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, app: app.New(st, st, w, rt.Observer())}
}

func (f *fixture) request() string {
	f.requests++
	return "req-" + strconv.Itoa(f.requests)
}

func draft(sku string) domain.Draft {
	return domain.Draft{SKU: sku, Name: "Mug " + sku, Price: events.Money{Amount: 1200, Currency: "EUR"}}
}

func (f *fixture) create(id string, d domain.Draft) error {
	return f.app.Commands.Create.Handle(meshtest.Context(f.t), app.CreateProduct{RequestID: f.request(), ID: id, Draft: d})
}

func (f *fixture) update(id string, d domain.Draft, ifVersion int64) error {
	return f.app.Commands.Update.Handle(meshtest.Context(f.t), app.UpdateProduct{RequestID: f.request(), ID: id, Draft: d, IfVersion: ifVersion})
}

func (f *fixture) delete(id string, ifVersion int64) error {
	return f.app.Commands.Delete.Handle(meshtest.Context(f.t), app.DeleteProduct{RequestID: f.request(), ID: id, IfVersion: ifVersion})
}

func (f *fixture) get(id string) (app.Product, error) {
	return f.app.Queries.Get.Handle(meshtest.Context(f.t), app.GetProduct{ID: id})
}

// Every catalog rule, in the order a catalog's life meets them: a sku
// belongs to one product, a write naming a version must name the current
// one, and a deleted product is gone for good (its id is not reused).
func TestCatalogRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// errInvalid stands for any *domain.FieldError.
	errInvalid := errors.New("invalid field")
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"create", func() error { return f.create("p1", draft("MUG")) }, nil},
		{"create the same id", func() error { return f.create("p1", draft("OTHER")) }, domain.ErrAlreadyExists},
		{"create with a sku taken", func() error { return f.create("p2", draft("MUG")) }, domain.ErrSKUTaken},
		{"create invalid", func() error { return f.create("p2", draft("bad sku")) }, errInvalid},
		{"create another", func() error { return f.create("p2", draft("CUP")) }, nil},
		{"update to a sku taken", func() error { return f.update("p2", draft("MUG"), 0) }, domain.ErrSKUTaken},
		{"update keeping its sku", func() error { return f.update("p1", draft("MUG"), 1) }, nil},
		{"update a stale version", func() error { return f.update("p1", draft("MUG"), 1) }, domain.ErrStaleVersion},
		{"update invalid", func() error { return f.update("p1", domain.Draft{SKU: "MUG"}, 0) }, errInvalid},
		{"update unknown", func() error { return f.update("nope", draft("NEW"), 0) }, domain.ErrNotFound},
		{"delete a stale version", func() error { return f.delete("p1", 1) }, domain.ErrStaleVersion},
		{"delete", func() error { return f.delete("p1", 2) }, nil},
		{"delete again", func() error { return f.delete("p1", 0) }, domain.ErrNotFound},
		{"update deleted", func() error { return f.update("p1", draft("MUG"), 0) }, domain.ErrNotFound},
		{"create over a deleted id", func() error { return f.create("p1", draft("MUG")) }, domain.ErrAlreadyExists},
		{"reuse a deleted product's sku", func() error { return f.create("p3", draft("MUG")) }, nil},
	}
	for _, s := range steps {
		err := s.do()
		var field *domain.FieldError
		switch {
		case s.want == errInvalid && !errors.As(err, &field):
			t.Fatalf("%s: %v, want a field error", s.name, err)
		case s.want != errInvalid && !errors.Is(err, s.want):
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	if _, err := f.get("p1"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("deleted product read: %v, want not found", err)
	}
	if p, err := f.get("p3"); err != nil || p.SKU != "MUG" || p.Version != 1 {
		t.Fatalf("product with the freed sku: %+v, %v", p, err)
	}
}

// A product reads back as written, and lists find it by sku or name.
func TestProductQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i, sku := range []string{"MUG", "CUP", "POT"} {
		if err := f.create("p"+strconv.Itoa(i), draft(sku)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := f.get("p1")
	if err != nil || p.SKU != "CUP" || p.Name != "Mug CUP" || p.Price.Amount != 1200 || p.Version != 1 || p.CreatedAt.IsZero() {
		t.Fatalf("product read as %+v, %v", p, err)
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"p0", "p1", "p2"}},
		{"cup", []string{"p1"}},
		{"mug ", []string{"p0", "p1", "p2"}}, // every name starts "Mug "
		{"nothing", nil},
	}
	for _, c := range cases {
		page, err := f.app.Queries.List.Handle(meshtest.Context(t), app.ListProducts{Query: c.query, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range page.Items {
			got = append(got, p.ID)
		}
		if !slices.Equal(got, c.want) || page.NextCursor != "" {
			t.Errorf("list %q: %v (next %q), want %v", c.query, got, page.NextCursor, c.want)
		}
	}
	if _, err := f.app.Queries.List.Handle(meshtest.Context(t), app.ListProducts{Cursor: "***", Limit: 10}); !errors.Is(err, paging.ErrBadCursor) {
		t.Fatalf("list with a forged cursor: %v", err)
	}
}
