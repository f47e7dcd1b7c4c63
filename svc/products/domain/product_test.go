package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

func draft() Draft {
	return Draft{SKU: "MUG-1", Name: "Mug", Description: "white", Price: events.Money{Amount: 1299, Currency: "EUR"}}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(*Draft)
		field string
	}{
		{"valid", func(*Draft) {}, ""},
		{"free price", func(d *Draft) { d.Price.Amount = 0 }, ""},
		{"empty sku", func(d *Draft) { d.SKU = "" }, "sku"},
		{"sku with space", func(d *Draft) { d.SKU = "MUG 1" }, "sku"},
		{"sku too long", func(d *Draft) { d.SKU = strings.Repeat("A", MaxSKU+1) }, "sku"},
		{"blank name", func(d *Draft) { d.Name = "   " }, "name"},
		{"name too long", func(d *Draft) { d.Name = strings.Repeat("n", MaxName+1) }, "name"},
		{"NUL in name", func(d *Draft) { d.Name = "mug\x00" }, "name"},
		{"ANSI escape in name", func(d *Draft) { d.Name = "\x1b[2Jmug" }, "name"},
		{"line break in name", func(d *Draft) { d.Name = "mug\r\nX-Injected: 1" }, "name"},
		{"invalid UTF-8 in name", func(d *Draft) { d.Name = "mug \xff" }, "name"},
		{"lone surrogate in name", func(d *Draft) { d.Name = "mug \ufffd" }, "name"},
		{"line breaks in description", func(d *Draft) { d.Description = "white\n\t350 ml" }, ""},
		{"escape in description", func(d *Draft) { d.Description = "\x1b]0;title\x07" }, "description"},
		{"description too long", func(d *Draft) { d.Description = strings.Repeat("d", MaxDescription+1) }, "description"},
		{"negative price", func(d *Draft) { d.Price.Amount = -1 }, "price.amount"},
		{"absurd price", func(d *Draft) { d.Price.Amount = MaxPrice + 1 }, "price.amount"},
		{"lowercase currency", func(d *Draft) { d.Price.Currency = "eur" }, "price.currency"},
		{"unknown currency", func(d *Draft) { d.Price.Currency = "ABC" }, "price.currency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := draft()
			c.edit(&d)
			err := Validate(d)
			var fe *FieldError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("Validate() = %v, want ok", err)
			case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
				t.Fatalf("Validate() = %v, want an error on %s", err, c.field)
			}
		})
	}
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	live := Evolve(Product{}, events.ProductCreated{ProductID: "p1", ProductFields: draft()}, time.Now())
	gone := Evolve(live, events.ProductDeleted{ProductID: "p1"}, time.Now())
	cases := []struct {
		name   string
		decide func() error
		want   error
	}{
		{"create", func() error { _, err := Create("p2", Product{}, draft(), Catalog{}); return err }, nil},
		{"create taken sku", func() error { _, err := Create("p2", Product{}, draft(), Catalog{SKUOwner: "p1"}); return err }, ErrSKUTaken},
		{"create over existing id", func() error { _, err := Create("p1", live, draft(), Catalog{}); return err }, ErrAlreadyExists},
		{"update own sku", func() error { _, err := Update(live, draft(), Catalog{SKUOwner: "p1"}, 0); return err }, nil},
		{"update to taken sku", func() error { _, err := Update(live, draft(), Catalog{SKUOwner: "p9"}, 0); return err }, ErrSKUTaken},
		{"update current version", func() error { _, err := Update(live, draft(), Catalog{}, 1); return err }, nil},
		{"update stale version", func() error { _, err := Update(live, draft(), Catalog{}, 7); return err }, ErrStaleVersion},
		{"update missing", func() error { _, err := Update(Product{}, draft(), Catalog{}, 0); return err }, ErrNotFound},
		{"update deleted", func() error { _, err := Update(gone, draft(), Catalog{}, 0); return err }, ErrNotFound},
		{"delete", func() error { _, err := Delete(live, 1); return err }, nil},
		{"delete stale", func() error { _, err := Delete(live, 2); return err }, ErrStaleVersion},
		{"delete twice", func() error { _, err := Delete(gone, 0); return err }, ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.decide(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestEvolve(t *testing.T) {
	t.Parallel()
	t0, t1 := time.Unix(100, 0), time.Unix(200, 0)
	p := Evolve(Product{}, events.ProductCreated{ProductID: "p1", ProductFields: draft()}, t0)
	changed := draft()
	changed.Name = "Big mug"
	p = Evolve(p, events.ProductUpdated{ProductID: "p1", ProductFields: changed}, t1)
	if p.Name != "Big mug" || p.Version != 2 || !p.CreatedAt.Equal(t0) || !p.UpdatedAt.Equal(t1) || !p.Exists() {
		t.Fatalf("after create+update: %+v", p)
	}
	p = Evolve(p, events.ProductDeleted{ProductID: "p1"}, t1)
	if p.Exists() || p.Version != 3 {
		t.Fatalf("after delete: %+v", p)
	}
}
