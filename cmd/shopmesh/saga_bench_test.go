package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// BenchmarkSaga runs the whole saga in one process: orders placed over HTTP
// by concurrent customers and driven to confirmed. It reports orders per
// second, the median and 99th-percentile time from placement to
// confirmation, and, from the same server in the same run, the raw rate of
// a plain JetStream publish loop.
//
//	go test ./cmd/shopmesh -run '^$' -bench Saga -benchtime 2000x
func BenchmarkSaga(b *testing.B) {
	b.Run("storage=file", func(b *testing.B) { benchSaga(b, func(*config) {}) })
	b.Run("storage=memory", func(b *testing.B) { benchSaga(b, func(c *config) { c.Ephemeral = true }) })
	b.Run("storage=file-sync-always", func(b *testing.B) { benchSaga(b, func(c *config) { c.Sync = "always" }) })
}

func benchSaga(b *testing.B, mode func(*config)) {
	const customers = 32
	cfg := defaultConfig()
	cfg.HTTPAddr, cfg.NATSAddr, cfg.NATSMonitorAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Data, cfg.AdminToken = b.TempDir(), meshtest.AdminToken
	cfg.NATSContext = "" // leave the nats CLI's contexts alone
	mode(&cfg)
	s, err := startShop(meshtest.Context(b), cfg, meshtest.Logger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	c := meshtest.NewClient(b, s.httpURL)
	c.Header = meshtest.Admin() // placing for the customers it names
	products := benchProducts(b, c, 8)
	confirmed := watchConfirmations(b, s.node.JetStream("orders"))

	monitor := "http://" + s.server.MonitorAddr().String()
	before, cpuBefore := benchCosts(b, s.httpURL, monitor), cpuTime()
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range customers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				latencies[i] = placeAndAwait(b, c, confirmed, products[i%len(products)], i)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	perOrder := benchCosts(b, s.httpURL, monitor).perOrder(before, b.N)
	cpu := cpuTime() - cpuBefore
	slices.Sort(latencies)
	orders := float64(b.N) / b.Elapsed().Seconds()
	storage := jetstream.FileStorage
	if cfg.Ephemeral {
		storage = jetstream.MemoryStorage
	}
	raw, err := measureRawPublishes(meshtest.Context(b), operatorJS(b, s), storage, customers, 20_000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(orders, "orders/s")
	b.ReportMetric(ms(latencies[len(latencies)/2]), "p50-ms")
	b.ReportMetric(ms(latencies[len(latencies)*99/100]), "p99-ms")
	b.ReportMetric(raw, "raw-publish/s")
	b.ReportMetric(raw/orders, "raw-publishes/order")
	b.ReportMetric(ms(cpu)/float64(b.N), "cpu-ms/order")
	for _, r := range perOrder.rows() {
		b.ReportMetric(r.Value, strings.ReplaceAll(r.Name, " ", "-")+"/order")
	}
}

// cpuTime is the CPU time the process has used, user and system: the shop,
// its server and the benchmark's customers all run in it.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func benchCosts(b *testing.B, shopURL, monitorURL string) costs {
	c, err := readCosts(meshtest.Context(b), http.DefaultClient, shopURL, monitorURL)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchProducts(b *testing.B, c *meshtest.Client, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		var p struct{ ID string }
		c.Do(http.MethodPost, "/products", map[string]any{
			"sku": fmt.Sprintf("BENCH-%d", i), "name": "Bench", "price": map[string]any{"amount": 100, "currency": "EUR"},
		}, meshtest.Admin()).Expect(http.StatusCreated).Decode(&p)
		c.Do(http.MethodPut, "/inventory/"+p.ID, map[string]any{"onHand": 1_000_000_000}, meshtest.Admin()).Expect(http.StatusOK)
		ids[i] = p.ID
	}
	return ids
}

// confirmations tells waiting customers when their order is confirmed,
// from one watch over the whole orders read model.
type confirmations struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
	done    map[string]bool
}

func watchConfirmations(b *testing.B, js jetstream.JetStream) *confirmations {
	ctx := meshtest.Context(b)
	kv, err := js.KeyValue(ctx, "orders")
	if err != nil {
		b.Fatal(err)
	}
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		b.Fatal(err)
	}
	c := &confirmations{waiting: map[string]chan struct{}{}, done: map[string]bool{}}
	go func() {
		for e := range w.Updates() {
			var rec struct{ View struct{ Status string } }
			if e != nil && json.Unmarshal(e.Value(), &rec) == nil && rec.View.Status == "confirmed" {
				c.confirm(e.Key())
			}
		}
	}()
	return c
}

func (c *confirmations) confirm(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[id] = true
	if ch, ok := c.waiting[id]; ok {
		close(ch)
		delete(c.waiting, id)
	}
}

func (c *confirmations) wait(ctx context.Context, id string) error {
	c.mu.Lock()
	if c.done[id] {
		c.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	c.waiting[id] = ch
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("order %s not confirmed: %w", id, ctx.Err())
	}
}

func placeAndAwait(b *testing.B, c *meshtest.Client, confirmed *confirmations, product string, i int) time.Duration {
	start := time.Now()
	var o struct{ ID string }
	c.Do(http.MethodPost, "/orders", map[string]any{
		"customerId": fmt.Sprintf("c%d", i%100), "paymentToken": "tok_visa",
		"items": []map[string]any{{"productId": product, "quantity": 1}},
	}, http.Header{"Idempotency-Key": {fmt.Sprintf("bench-%d", i)}}).Expect(http.StatusAccepted).Decode(&o)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := confirmed.wait(ctx, o.ID); err != nil {
		b.Error(err)
	}
	return time.Since(start)
}

// operatorJS connects to the shop's server as its operator, who may
// create the scratch stream of raw publishes.
func operatorJS(b *testing.B, s *shop) jetstream.JetStream {
	nc, err := nats.Connect(s.natsURL, operator(s))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return js
}
