//go:build cluster

package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// shop talks to the cluster through the load balancer, as the admin.
type shop struct {
	base   string
	client *http.Client
}

func newShop() *shop {
	return &shop{
		base:   fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		client: &http.Client{Timeout: 15 * time.Second},
	}
}

// call sends a JSON request and decodes a 2xx answer into out. It returns
// the status (0 when no answer came) and an error for anything but 2xx.
func (s *shop) call(method, path string, body any, headers map[string]string, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

// must retries a call that a cluster still settling may refuse (a product
// the orders service has not seen yet, a replica restarting) for up to 60s.
func (s *shop) must(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if _, err = s.call(method, path, body, nil, out); err == nil {
			return
		}
	}
	t.Fatal(err)
}

type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type line struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

type order struct {
	ID     string `json:"id"`
	Items  []line `json:"items"`
	Total  money  `json:"total"`
	Status string `json:"status"`
}

type stock struct {
	OnHand    int64 `json:"onHand"`
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
}

var terminal = map[string]bool{"confirmed": true, "rejected": true, "cancelled": true, "expired": true}

// allOrders pages through every order, newest first.
func (s *shop) allOrders() ([]order, error) {
	var all []order
	cursor := ""
	for {
		var page struct {
			Items      []order `json:"items"`
			NextCursor string  `json:"nextCursor"`
		}
		if _, err := s.call(http.MethodGet, "/orders?limit=100&cursor="+cursor, nil, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// catalog creates the products of the test: most with plenty of stock, a
// few scarce ones that orders compete for, so that overselling would show.
func (s *shop) catalog(t *testing.T) map[string]int64 {
	t.Helper()
	initial := map[string]int64{}
	run := time.Now().UnixNano()
	for i := range 10 {
		var p struct {
			ID string `json:"id"`
		}
		body := map[string]any{"sku": fmt.Sprintf("CHAOS-%d-%d", run, i), "name": fmt.Sprintf("Chaos item %d", i),
			"price": money{Amount: int64(500 + 100*i), Currency: "EUR"}}
		s.must(t, http.MethodPost, "/products", body, &p)
		onHand := int64(100000)
		if i < 3 {
			onHand = 60
		}
		s.must(t, http.MethodPut, "/inventory/"+p.ID, map[string]int64{"onHand": onHand}, nil)
		initial[p.ID] = onHand
	}
	return initial
}
