package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
)

// shopClient is the small part of the HTTP API the load generator uses.
type shopClient struct {
	base     string
	token    string
	customer string
	http     *http.Client
}

// httpError is a refused request, with the problem's title (RFC 9457).
type httpError struct {
	method, path string
	status       int
	title        string
}

func (e httpError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.title)
}

// reason names a failure so that alike ones are counted together: the
// status and problem title, not the detail, which names ids.
func reason(err error) string {
	var h httpError
	if errors.As(err, &h) {
		return fmt.Sprintf("%d %s", h.status, h.title)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "run stopped before the answer"
	}
	return err.Error()
}

func (s *shopClient) call(ctx context.Context, method, path string, body, out any, admin bool) error {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if admin {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var p struct{ Title string }
		if json.Unmarshal(data, &p) != nil || p.Title == "" {
			p.Title = http.StatusText(resp.StatusCode)
		}
		return httpError{method: method, path: path, status: resp.StatusCode, title: p.Title}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (s *shopClient) stockedProducts(ctx context.Context, n int, each int64) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		var p struct{ ID string }
		body := map[string]any{"sku": fmt.Sprintf("%s-%d", strings.ToUpper(s.customer), i), "name": "Load test item", "price": map[string]any{"amount": 100, "currency": "EUR"}}
		if err := s.call(ctx, http.MethodPost, "/products", body, &p, true); err != nil {
			return nil, fmt.Errorf("create products: %w", err)
		}
		if err := s.call(ctx, http.MethodPut, "/inventory/"+p.ID, map[string]any{"onHand": each}, nil, true); err != nil {
			return nil, fmt.Errorf("stock products: %w", err)
		}
		ids[i] = p.ID
	}
	return ids, nil
}

// costs reads the cost counters, with the server's if monitor answers; it
// returns the monitor address to use next time ("" once it did not answer),
// and nil costs if even the shop's metrics cannot be read.
func (s *shopClient) costs(ctx context.Context, monitor string) (*costs, string) {
	c, err := readCosts(ctx, s.http, s.base, monitor)
	if err != nil && monitor != "" {
		c, err = readCosts(ctx, s.http, s.base, "")
		monitor = ""
	}
	if err != nil {
		return nil, monitor
	}
	return &c, monitor
}

// follower tells waiting customers when their order ends, from one stream
// of the run's order changes: the load generator measures the shop, not its
// own polling.
type follower struct {
	shop    *shopClient
	mu      sync.Mutex
	waiting map[string]chan string
	// ended holds endings that arrived before the customer began to wait.
	ended map[string]string
	// rejoined counts how often the stream had to be followed again.
	rejoined atomic.Int64
}

func followOrders(ctx context.Context, shop *shopClient) (*follower, error) {
	f := &follower{shop: shop, waiting: map[string]chan string{}, ended: map[string]string{}}
	changes, err := f.watch(ctx)
	if err != nil {
		return nil, err
	}
	go f.run(ctx, changes)
	return f, nil
}

func (f *follower) watch(ctx context.Context) (<-chan orderChange, error) {
	return watchOrders(ctx, f.shop.http, f.shop.base, f.shop.token, "customerId="+f.shop.customer)
}

// run hands endings to customers. If the shop ends the stream (a client
// that fell behind is dropped; a restart), it follows again and reads each
// order still waited for once, so an ending in between is not missed.
func (f *follower) run(ctx context.Context, changes <-chan orderChange) {
	for {
		for c := range changes {
			if loadTerminal[c.Status] {
				f.end(c.ID, c.Status)
			}
		}
		for changes = nil; changes == nil && ctx.Err() == nil; {
			var err error
			if changes, err = f.watch(ctx); err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(250 * time.Millisecond):
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		f.rejoined.Add(1)
		f.recheck(ctx)
	}
}

var loadTerminal = map[string]bool{"confirmed": true, "rejected": true, "cancelled": true, "expired": true}

func (f *follower) end(id, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.waiting[id]; ok {
		ch <- status
		delete(f.waiting, id)
		return
	}
	f.ended[id] = status
}

func (f *follower) recheck(ctx context.Context) {
	f.mu.Lock()
	ids := slices.Collect(maps.Keys(f.waiting))
	f.mu.Unlock()
	for _, id := range ids {
		var o orderChange
		if f.shop.call(ctx, http.MethodGet, "/orders/"+id, nil, &o, true) == nil && loadTerminal[o.Status] {
			f.end(id, o.Status)
		}
	}
}

// await waits until the order ends, for at most limit.
func (f *follower) await(ctx context.Context, id string, limit time.Duration) (string, error) {
	f.mu.Lock()
	if status, ok := f.ended[id]; ok {
		delete(f.ended, id)
		f.mu.Unlock()
		return status, nil
	}
	ch := make(chan string, 1)
	f.waiting[id] = ch
	f.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case status := <-ch:
		return status, nil
	case <-t.C:
		f.forget(id)
		return "", fmt.Errorf("not ended within %s", limit)
	case <-ctx.Done():
		f.forget(id)
		return "", errors.New("run stopped before it ended")
	}
}

func (f *follower) forget(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.waiting, id)
}

// rawPublishRate measures plain JetStream publishes on the server at
// natsURL, in a scratch stream stored like the shop's ORDERS stream.
func rawPublishRate(ctx context.Context, natsURL string, writers int) (float64, error) {
	js, closeConn, err := connectOperator(natsURL, "shopmesh-load")
	if err != nil {
		return 0, err
	}
	defer closeConn()
	orders, err := js.Stream(ctx, events.OrdersStream)
	if err != nil {
		return 0, fmt.Errorf("the shop's %s stream: %w", events.OrdersStream, err)
	}
	return measureRawPublishes(ctx, js, orders.CachedInfo().Config.Storage, writers, 20_000)
}

// measureRawPublishes publishes total small messages from writers
// goroutines to a scratch stream, deleted after, and returns messages per
// second.
func measureRawPublishes(ctx context.Context, js jetstream.JetStream, storage jetstream.StorageType, writers, total int) (float64, error) {
	const name = "RAWPUBLISH"
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"rawpublish.>"}, Storage: storage}); err != nil {
		return 0, err
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), name) }()
	var next atomic.Int64
	var failed atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(total) {
				if _, err := js.Publish(ctx, "rawpublish.x", []byte(`{"orderId":"x"}`)); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}
