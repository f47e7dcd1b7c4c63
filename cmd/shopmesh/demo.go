package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// demoProduct is one product of the demo catalog, with its first stock.
type demoProduct struct {
	SKU, Name, Description string
	Price, Stock           int64
}

// demoCatalog is what `shopmesh run --demo` puts in an empty shop: enough
// to shop, with one product that runs out soon and one that is out.
var demoCatalog = []demoProduct{
	{"DEMO-MUG", "Enamel mug", "A white enamel mug, 350 ml, that survives a camp fire.", 1299, 40},
	{"DEMO-TEAPOT", "Cast iron teapot", "Keeps a litre of tea hot for an hour.", 4500, 12},
	{"DEMO-GRINDER", "Hand coffee grinder", "Ceramic burrs, 25 settings, from espresso to French press.", 3900, 15},
	{"DEMO-KETTLE", "Gooseneck kettle", "For a slow, even pour; 0.9 l, stovetop.", 5200, 8},
	{"DEMO-BEANS", "Espresso beans, 1 kg", "A dark roast from a small roaster.", 2400, 60},
	{"DEMO-FILTER", "Paper filters, 100", "For a V60-style dripper.", 650, 100},
	{"DEMO-DRIPPER", "Ceramic dripper", "Pour-over for one or two cups.", 2200, 20},
	{"DEMO-SCALE", "Brew scale", "0.1 g, with a timer.", 3400, 10},
	{"DEMO-TIN", "Tea tin", "Airtight, 250 g of leaves.", 990, 30},
	{"DEMO-CUPS", "Espresso cups, set of 4", "Porcelain, with saucers.", 2800, 6},
	{"DEMO-JUG", "Milk jug", "Stainless steel, 600 ml, for latte art.", 1800, 3},
	{"DEMO-PRESS", "French press", "Glass and steel, 8 cups.", 3100, 0},
}

// seedDemo fills the catalog of a --demo shop, through the shop's own
// HTTP API, as the admin would. A product whose sku the catalog has
// already was added by an earlier start on the same --data: it is left as
// it is, stock and all, so a restart neither fails nor duplicates.
func (s *shop) seedDemo(ctx context.Context) error {
	if !s.cfg.Demo {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	have, err := s.catalogSKUs(ctx)
	if err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	added := 0
	for _, p := range demoCatalog {
		if have[p.SKU] {
			continue // added by an earlier start on the same --data
		}
		created, err := s.addDemoProduct(ctx, p)
		if err != nil {
			return fmt.Errorf("demo catalog: %w", err)
		}
		if created {
			added++
		}
	}
	s.log.Info().Int("added", added).Int("products", len(demoCatalog)).Msg("demo catalog")
	return nil
}

// addDemoProduct adds p with its stock, unless its sku is taken.
func (s *shop) addDemoProduct(ctx context.Context, p demoProduct) (bool, error) {
	var made struct{ ID string }
	status, err := s.adminRequest(ctx, http.MethodPost, "/products", map[string]any{
		"sku": p.SKU, "name": p.Name, "description": p.Description,
		"price": map[string]any{"amount": p.Price, "currency": "EUR"},
	}, &made)
	switch {
	case err != nil:
		return false, err
	case status == http.StatusConflict:
		return false, nil // added meanwhile, by another start on the same --data
	case status != http.StatusCreated:
		return false, fmt.Errorf("add %s: %d", p.SKU, status)
	case p.Stock == 0:
		return true, nil // a new product has none: the one that is out
	}
	status, err = s.adminRequest(ctx, http.MethodPut, "/inventory/"+made.ID, map[string]any{"onHand": p.Stock}, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("stock of %s: %d", p.SKU, status)
	}
	return true, err
}

// catalogSKUs are the skus the catalog has: a restart adds none of them
// again (asking would only be refused, and logged as refused).
func (s *shop) catalogSKUs(ctx context.Context) (map[string]bool, error) {
	have := map[string]bool{}
	for cursor := ""; ; {
		var page struct {
			Items      []struct{ SKU string }
			NextCursor string
		}
		status, err := s.adminRequest(ctx, http.MethodGet, "/products?limit=100&cursor="+url.QueryEscape(cursor), nil, &page)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("list the catalog: %d", status)
		}
		for _, p := range page.Items {
			have[p.SKU] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			return have, nil
		}
	}
}

// adminRequest sends body as JSON with the admin token and decodes a 2xx
// answer into out.
func (s *shop) adminRequest(ctx context.Context, method, path string, body, out any) (int, error) {
	var payload io.Reader // none for a GET
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		payload = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.httpURL+path, payload)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.cfg.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, err
}
