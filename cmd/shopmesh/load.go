package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadConfig is what `shopmesh load` is told.
type loadConfig struct {
	URL          string
	Token        string
	Orders       int
	Concurrency  int
	Products     int
	DeclineRate  float64
	Timeout      time.Duration
	OrderTimeout time.Duration
	AllowRemote  bool
	JSON         bool
	NATS         string
	Monitor      string
	// IdleFollowers follow the stock and never read, from IdleAddresses
	// loopback addresses: what they cost (issue 19).
	IdleFollowers int
	IdleAddresses int
}

// loadCommand places orders against a running shop through its HTTP API,
// follows each to its end through the stream of order changes, and reports
// throughput, latency, outcomes, failures and what an order cost.
func loadCommand(args []string, stdout io.Writer) error {
	c, err := parseLoadConfig(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, c.Timeout, errTimedOut)
	defer cancel()
	var progress io.Writer
	if !c.JSON && isTerminal(os.Stderr) {
		progress = os.Stderr
	}
	r, err := runLoad(ctx, c, progress)
	if err != nil {
		return err
	}
	if err := r.print(stdout, c.JSON); err != nil {
		return err
	}
	return r.stopped
}

var errTimedOut = errors.New("--timeout reached")

func parseLoadConfig(args []string) (loadConfig, error) {
	c := loadConfig{}
	fs := flag.NewFlagSet("shopmesh load", flag.ContinueOnError)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "the shop's HTTP address")
	fs.StringVar(&c.Token, "admin-token", envDefault("SHOPMESH_ADMIN_TOKEN", ""), "admin token (to create products and stock)")
	fs.IntVar(&c.Orders, "orders", 500, "orders to place (at most 100000)")
	fs.IntVar(&c.Concurrency, "concurrency", 16, "customers placing orders at once")
	fs.IntVar(&c.Products, "products", 8, "products the orders spread over")
	fs.Float64Var(&c.DeclineRate, "decline-rate", 0, "share of orders paid with a declined card")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "stop after this long and report what was done")
	fs.DurationVar(&c.OrderTimeout, "order-timeout", time.Minute, "how long one order may take to end before it counts as failed")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a shop that is not on this machine")
	fs.BoolVar(&c.JSON, "json", false, "print the results as JSON")
	fs.StringVar(&c.NATS, "nats", "", "URL of the shop's NATS server: also measure raw JetStream publishes there, for comparison")
	fs.StringVar(&c.Monitor, "nats-monitor", "http://127.0.0.1:8222", "NATS monitoring address, to count the server's messages per order (empty: skip)")
	fs.IntVar(&c.IdleFollowers, "idle-followers", 0, "also hold this many followers of GET /inventory/changes that never read, for the whole run")
	fs.IntVar(&c.IdleAddresses, "idle-addresses", 1, "the idle followers come from this many loopback addresses, 127.0.0.2 on (1-250)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.check()
}

func (c loadConfig) check() error {
	switch {
	case c.Token == "":
		return errors.New("--admin-token (or SHOPMESH_ADMIN_TOKEN) is needed to create products")
	case c.Orders < 1 || c.Orders > 100_000 || c.Concurrency < 1 || c.Concurrency > 1000 || c.Products < 1:
		return errors.New("--orders must be 1-100000, --concurrency 1-1000, --products at least 1")
	case c.DeclineRate < 0 || c.DeclineRate > 1:
		return errors.New("--decline-rate must be between 0 and 1")
	case c.Timeout <= 0 || c.OrderTimeout <= 0:
		return errors.New("--timeout and --order-timeout must be positive")
	case c.IdleFollowers < 0 || c.IdleFollowers > 20_000 || c.IdleAddresses < 1 || c.IdleAddresses > 250:
		return errors.New("--idle-followers must be 0-20000, --idle-addresses 1-250")
	case c.IdleFollowers > 0 && c.AllowRemote:
		return errors.New("--idle-followers come from loopback addresses: the shop must be on this machine")
	}
	for _, target := range []string{c.URL, c.NATS, c.Monitor} {
		if err := c.local(target); err != nil {
			return err
		}
	}
	return nil
}

// local refuses targets elsewhere than this machine unless allowed: a load
// test is not to be pointed at someone else's shop by mistake.
func (c loadConfig) local(target string) error {
	if target == "" || c.AllowRemote {
		return nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s is not on this machine; pass --allow-remote to load a shop elsewhere", target)
	}
	return nil
}

// runLoad sets up products, follows the order changes, lets the customers
// place their orders and gathers the result. It returns an error only if
// nothing could be measured; a run cut short is a result with stopped set.
func runLoad(ctx context.Context, c loadConfig, progress io.Writer) (*loadResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.Concurrency + 4}}
	// A customer of its own per run: the stream of changes is filtered to
	// it, and the products' skus are new.
	customer := fmt.Sprintf("load-%d", time.Now().UnixNano())
	shop := &shopClient{base: c.URL, token: c.Token, customer: customer, http: client}
	products, err := shop.stockedProducts(ctx, c.Products, int64(c.Orders))
	if err != nil {
		return nil, err
	}
	f, err := followOrders(ctx, shop)
	if err != nil {
		return nil, err
	}
	// The idle followers come after the run's own, which they must not
	// crowd out, and hang on until the orders are done.
	var idle *idleFollowers
	if c.IdleFollowers > 0 {
		idleCtx, stopIdle := context.WithCancel(ctx)
		if idle, err = startIdleFollowers(idleCtx, c.URL, c.IdleFollowers, c.IdleAddresses); err != nil {
			stopIdle()
			return nil, err
		}
		defer func() { stopIdle(); idle.stop() }()
	}
	costsBefore, monitor := shop.costs(ctx, c.Monitor)
	r := newLoadResult(c.Orders)
	r.Idle = idle
	stopProgress := r.showProgress(progress)
	runCustomers(ctx, c, shop, f, products, r)
	stopProgress()
	r.finish(ctx)
	if after, _ := shop.costs(context.WithoutCancel(ctx), monitor); after != nil && costsBefore != nil {
		perOrder := after.perOrder(*costsBefore, r.ended())
		r.Costs = &perOrder
	}
	if c.NATS != "" && ctx.Err() == nil {
		r.rawPublishes(ctx, c)
	}
	return r, nil
}

// runCustomers places every order, Concurrency at a time, each one
// followed to its end.
func runCustomers(ctx context.Context, c loadConfig, shop *shopClient, f *follower, products []string, r *loadResult) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range c.Concurrency {
		wg.Go(func() {
			for i := range jobs {
				r.record(r.orderToTheEnd(ctx, shop, f, products[i%len(products)], token(i, c.DeclineRate), c.OrderTimeout))
			}
		})
	}
	for i := range c.Orders {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
}

// token spreads declined cards evenly over the orders.
func token(i int, declineRate float64) string {
	if int(float64(i+1)*declineRate) > int(float64(i)*declineRate) {
		return "tok_chargeDeclined"
	}
	return "tok_visa"
}

// outcome is how one order went: its terminal status, or why it failed.
type outcome struct {
	status  string
	took    time.Duration
	failure string
}

// orderToTheEnd places one order and waits until the stream of changes
// says it ended.
func (r *loadResult) orderToTheEnd(ctx context.Context, s *shopClient, f *follower, product, token string, limit time.Duration) outcome {
	start := time.Now()
	var o orderChange
	body := map[string]any{"customerId": s.customer, "paymentToken": token, "items": []map[string]any{{"productId": product, "quantity": 1}}}
	// The admin token places orders for the run's customer.
	if err := s.call(ctx, http.MethodPost, "/orders", body, &o, true); err != nil {
		return outcome{failure: "place: " + reason(err)}
	}
	r.placed.Add(1)
	status, err := f.await(ctx, o.ID, limit)
	if err != nil {
		return outcome{failure: err.Error()}
	}
	return outcome{status: status, took: time.Since(start)}
}

// rawPublishes measures plain JetStream publishes on the shop's server,
// from as many publishers as there were customers, for comparison.
func (r *loadResult) rawPublishes(ctx context.Context, c loadConfig) {
	rate, err := rawPublishRate(ctx, c.NATS, c.Concurrency)
	if err != nil {
		r.RawError = err.Error()
		return
	}
	r.RawPublishesPerSecond = rate
	if r.OrdersPerSecond > 0 {
		r.RawPublishesPerOrder = rate / r.OrdersPerSecond
	}
}

// loadResult is what a run measured; it is printed as text or JSON.
type loadResult struct {
	Placed                int            `json:"placed"`
	Ended                 int            `json:"ended"`
	Failed                int            `json:"failed"`
	Outcomes              map[string]int `json:"outcomes"`
	Failures              map[string]int `json:"failures"`
	Elapsed               time.Duration  `json:"elapsedNs"`
	OrdersPerSecond       float64        `json:"ordersPerSecond"`
	Latency               latencies      `json:"latencyMs"`
	Costs                 *costs         `json:"costsPerOrder,omitempty"`
	RawPublishesPerSecond float64        `json:"rawPublishesPerSecond,omitempty"`
	RawPublishesPerOrder  float64        `json:"rawPublishesPerOrder,omitempty"`
	RawError              string         `json:"rawPublishError,omitempty"`
	Stopped               string         `json:"stopped,omitempty"`
	Idle                  *idleFollowers `json:"idleFollowers,omitempty"`

	mu      sync.Mutex
	start   time.Time
	took    []time.Duration
	placed  atomic.Int64
	stopped error
}

type latencies struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func newLoadResult(orders int) *loadResult {
	return &loadResult{Outcomes: map[string]int{}, Failures: map[string]int{}, start: time.Now(), took: make([]time.Duration, 0, orders)}
}

func (r *loadResult) record(o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.failure != "" {
		r.Failed++
		r.Failures[o.failure]++
		return
	}
	r.Outcomes[o.status]++
	r.took = append(r.took, o.took)
}

func (r *loadResult) ended() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.took)
}

// snapshot computes the figures so far.
func (r *loadResult) snapshot() (ended int, perSecond float64, lat latencies) {
	r.mu.Lock()
	took := slices.Clone(r.took)
	r.mu.Unlock()
	slices.Sort(took)
	elapsed := time.Since(r.start).Seconds()
	if len(took) == 0 {
		return 0, 0, latencies{}
	}
	q := func(p int) float64 { return ms(took[min(len(took)-1, len(took)*p/100)]) }
	return len(took), float64(len(took)) / elapsed, latencies{P50: q(50), P90: q(90), P99: q(99), Max: ms(took[len(took)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// finish fixes the final figures and why the run stopped early, if it did.
func (r *loadResult) finish(ctx context.Context) {
	r.Elapsed = time.Since(r.start)
	r.Placed = int(r.placed.Load())
	r.Ended, r.OrdersPerSecond, r.Latency = r.snapshot()
	if ctx.Err() != nil {
		r.stopped = context.Cause(ctx)
		if errors.Is(r.stopped, context.Canceled) {
			r.stopped = errors.New("interrupted")
		}
		r.Stopped = r.stopped.Error()
	}
}

// showProgress rewrites one status line on w twice a second until stop.
func (r *loadResult) showProgress(w io.Writer) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				ended, rate, lat := r.snapshot()
				r.mu.Lock()
				failed := r.Failed
				r.mu.Unlock()
				fmt.Fprintf(w, "\r\033[Kplaced %d  ended %d  failed %d  %.0f orders/s  p50 %.0f ms  p99 %.0f ms",
					r.placed.Load(), ended, failed, rate, lat.P50, lat.P99)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// print writes the result as text, or as JSON.
func (r *loadResult) print(w io.Writer, asJSON bool) error {
	if asJSON {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(r)
	}
	fmt.Fprintf(w, "orders      %d placed, %d ended, %d failed, in %s\n", r.Placed, r.Ended, r.Failed, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "throughput  %.1f orders/s\n", r.OrdersPerSecond)
	outcomes := []string{}
	for _, name := range byCount(r.Outcomes) {
		outcomes = append(outcomes, fmt.Sprintf("%s %d", name, r.Outcomes[name]))
	}
	fmt.Fprintf(w, "outcomes    %s\n", strings.Join(outcomes, ", "))
	if r.Ended > 0 {
		l := r.Latency
		fmt.Fprintf(w, "placed to end  p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms\n", l.P50, l.P90, l.P99, l.Max)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "failures")
	}
	for _, name := range byCount(r.Failures) {
		fmt.Fprintf(w, "  %6d  %s\n", r.Failures[name], name)
	}
	if r.Costs != nil {
		fmt.Fprintln(w, "per ended order")
		for _, row := range r.Costs.rows() {
			fmt.Fprintf(w, "  %-24s %8.2f\n", row.Name, row.Value)
		}
	}
	if r.RawPublishesPerSecond > 0 {
		fmt.Fprintf(w, "raw JetStream publishes  %.0f/s on the same server: %.0f per order\n", r.RawPublishesPerSecond, r.RawPublishesPerOrder)
	}
	if r.RawError != "" {
		fmt.Fprintf(w, "raw JetStream publishes  not measured: %s\n", r.RawError)
	}
	if r.Idle != nil {
		fmt.Fprintf(w, "idle followers  %d held: %d admitted, %d turned away\n", r.Idle.Opened, r.Idle.admitted.Load(), r.Idle.refused.Load())
	}
	if r.Stopped != "" {
		fmt.Fprintf(w, "stopped early: %s\n", r.Stopped)
	}
	return nil
}

// byCount lists the names of m, largest count first.
func byCount(m map[string]int) []string {
	return slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(m[b]-m[a], strings.Compare(a, b)) })
}
