package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig is what `shopmesh load` is told.
type loadConfig struct {
	URL         string
	Token       string
	Orders      int
	Concurrency int
	Products    int
	DeclineRate float64
	Timeout     time.Duration
	AllowRemote bool
}

// loadCommand places orders against a running shop through its HTTP API,
// follows each to its end, and reports throughput and latency.
func loadCommand(args []string, stdout io.Writer) error {
	c := loadConfig{}
	fs := flag.NewFlagSet("shopmesh load", flag.ContinueOnError)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "the shop's HTTP address")
	fs.StringVar(&c.Token, "admin-token", envDefault("SHOPMESH_ADMIN_TOKEN", ""), "admin token (to create products and stock)")
	fs.IntVar(&c.Orders, "orders", 500, "orders to place (at most 100000)")
	fs.IntVar(&c.Concurrency, "concurrency", 16, "customers placing orders at once")
	fs.IntVar(&c.Products, "products", 8, "products the orders spread over")
	fs.Float64Var(&c.DeclineRate, "decline-rate", 0, "share of orders paid with a declined card")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Minute, "stop after this long")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a shop that is not on this machine")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	r, err := runLoad(ctx, c)
	if err != nil {
		return err
	}
	r.print(stdout)
	return nil
}

func (c loadConfig) check() error {
	switch {
	case c.Token == "":
		return errors.New("--admin-token (or SHOPMESH_ADMIN_TOKEN) is needed to create products")
	case c.Orders < 1 || c.Orders > 100_000 || c.Concurrency < 1 || c.Products < 1:
		return errors.New("--orders must be 1-100000, --concurrency and --products at least 1")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); !c.AllowRemote && u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("--url is not on this machine; pass --allow-remote to load a shop elsewhere")
	}
	return nil
}

type loadResult struct {
	elapsed   time.Duration
	latencies []time.Duration
	outcomes  map[string]int
	failures  int
}

func runLoad(ctx context.Context, c loadConfig) (loadResult, error) {
	client := &shopClient{base: c.URL, token: c.Token, http: &http.Client{Timeout: 30 * time.Second}}
	products, err := client.stockedProducts(ctx, c.Products, int64(c.Orders))
	if err != nil {
		return loadResult{}, err
	}
	res := loadResult{latencies: make([]time.Duration, c.Orders), outcomes: map[string]int{}}
	var mu sync.Mutex
	var next, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range c.Concurrency {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < c.Orders && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				status, took, err := client.orderToTheEnd(ctx, products[i%len(products)], token(i, c.DeclineRate))
				if err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				res.latencies[i], res.outcomes[status] = took, res.outcomes[status]+1
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed, res.failures = time.Since(start), int(failed.Load())
	return res, ctx.Err()
}

// token spreads declined cards evenly over the orders.
func token(i int, declineRate float64) string {
	if int(float64(i+1)*declineRate) > int(float64(i)*declineRate) {
		return "tok_chargeDeclined"
	}
	return "tok_visa"
}

func (r loadResult) print(w io.Writer) {
	done := slices.DeleteFunc(slices.Clone(r.latencies), func(d time.Duration) bool { return d == 0 })
	slices.Sort(done)
	fmt.Fprintf(w, "orders      %d ended, %d failed, in %s\n", len(done), r.failures, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "throughput  %.1f orders/s\n", float64(len(done))/r.elapsed.Seconds())
	fmt.Fprintf(w, "outcomes    %v\n", r.outcomes)
	if len(done) > 0 {
		q := func(p int) time.Duration { return done[min(len(done)-1, len(done)*p/100)].Round(time.Millisecond) }
		fmt.Fprintf(w, "placed to terminal  p50 %s  p90 %s  p99 %s  max %s\n", q(50), q(90), q(99), done[len(done)-1].Round(time.Millisecond))
	}
}

// shopClient is the small part of the HTTP API the load generator uses.
type shopClient struct {
	base  string
	token string
	http  *http.Client
}

func (s *shopClient) call(ctx context.Context, method, path string, body, out any, admin bool) error {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
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
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (s *shopClient) stockedProducts(ctx context.Context, n int, each int64) ([]string, error) {
	run := time.Now().UnixNano()
	ids := make([]string, n)
	for i := range ids {
		var p struct{ ID string }
		body := map[string]any{"sku": fmt.Sprintf("LOAD-%d-%d", run, i), "name": "Load test item", "price": map[string]any{"amount": 100, "currency": "EUR"}}
		if err := s.call(ctx, http.MethodPost, "/products", body, &p, true); err != nil {
			return nil, err
		}
		if err := s.call(ctx, http.MethodPut, "/inventory/"+p.ID, map[string]any{"onHand": each}, nil, true); err != nil {
			return nil, err
		}
		ids[i] = p.ID
	}
	return ids, nil
}

var loadTerminal = map[string]bool{"confirmed": true, "rejected": true, "cancelled": true, "expired": true}

// orderToTheEnd places one order and polls it, backing off, until it ends.
func (s *shopClient) orderToTheEnd(ctx context.Context, product, token string) (string, time.Duration, error) {
	start := time.Now()
	var o struct{ ID, Status string }
	body := map[string]any{"customerId": "load", "paymentToken": token, "items": []map[string]any{{"productId": product, "quantity": 1}}}
	if err := s.call(ctx, http.MethodPost, "/orders", body, &o, false); err != nil {
		return "", 0, err
	}
	for wait := 5 * time.Millisecond; !loadTerminal[o.Status]; wait = min(wait*2, 250*time.Millisecond) {
		select {
		case <-ctx.Done():
			return "", 0, ctx.Err()
		case <-time.After(wait):
		}
		if err := s.call(ctx, http.MethodGet, "/orders/"+o.ID, nil, &o, false); err != nil {
			return "", 0, err
		}
	}
	return o.Status, time.Since(start), nil
}
