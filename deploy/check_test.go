//go:build cluster

package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
)

// checker confirms, with the load paused, what must hold after every
// fault: every acknowledged order exists and ends terminal; no product is
// oversold and onHand = available + reserved; captured - refunded money is
// the total of confirmed orders; no order is charged twice; no dead letter.
type checker struct {
	shop    *shop
	load    *load
	js      jetstream.JetStream
	initial map[string]int64
	cluster *cluster
	// explained are the expired orders whose timelines were logged.
	explained map[string]bool
}

// connectAdmin connects to the three nodes' published ports as the NATS
// admin. It never follows the addresses the servers announce (inside the
// compose network): only 127.0.0.1.
func connectAdmin(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	var urls []string
	for _, n := range natsNodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.port))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo("admin", adminPassword),
		nats.IgnoreDiscoveredServers(), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.Name("shopmesh chaos test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// verify waits up to 100s (the orders' TTL and then some) for the shop, at rest, to settle into a
// state where everything holds, and fails the test with what did not.
func (c *checker) verify(t *testing.T, name string) {
	t.Helper()
	c.load.pause()
	defer c.load.resume()
	start := time.Now()
	var err error
	for deadline := start.Add(orderTTL + 40*time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		var expired []string
		if expired, err = c.settled(); err == nil {
			t.Logf("%s: every invariant holds (settled in %s; %s)", name, time.Since(start).Round(100*time.Millisecond), c.load.summary())
			c.explainExpired(t, expired)
			return
		}
	}
	t.Errorf("%s: %v", name, err)
}

// explainExpired logs the timeline of each order that expired since the
// last check. An expired order is allowed, and paid back, but a sign that
// its saga lost a step: the gateway answers at once and faults last
// seconds, well within the orders' TTL.
func (c *checker) explainExpired(t *testing.T, expired []string) {
	t.Helper()
	for _, id := range expired {
		if c.explained[id] {
			continue
		}
		c.explained[id] = true
		var timeline struct {
			Events []struct {
				Time    string `json:"time"`
				Service string `json:"service"`
				Subject string `json:"subject"`
			} `json:"events"`
		}
		if _, err := c.shop.call(http.MethodGet, "/orders/"+id+"/timeline", nil, nil, &timeline); err != nil {
			t.Logf("order %s expired (its TTL is %s); no timeline: %v", id, orderTTL, err)
			continue
		}
		var lines []string
		for _, e := range timeline.Events {
			lines = append(lines, fmt.Sprintf("  %s %-9s %s", e.Time, e.Service, e.Subject))
		}
		t.Logf("order %s expired (its TTL is %s); its timeline:\n%s", id, orderTTL, strings.Join(lines, "\n"))
		t.Logf("what the services logged of order %s:\n%s", id, c.logsOf(id))
	}
}

// logsOf is every line the services' containers logged that names id.
func (c *checker) logsOf(id string) string {
	out, err := c.cluster.try(time.Minute, "bash", "deploy/cluster.sh", "compose", "logs", "--no-color",
		"products-1", "products-2", "inventory-1", "inventory-2", "orders-1", "orders-2", "payments-1", "payments-2")
	if err != nil {
		return err.Error()
	}
	var lines []string
	for line := range strings.Lines(out) {
		if strings.Contains(line, id) {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if len(lines) > 80 {
		lines = append(lines[:80], fmt.Sprintf("and %d more lines", len(lines)-80))
	}
	return strings.Join(lines, "\n")
}

// settled checks everything once, and names the orders that expired.
func (c *checker) settled() ([]string, error) {
	orders, err := c.shop.allOrders()
	if err != nil {
		return nil, err
	}
	var expired []string
	for _, o := range orders {
		if o.Status == "expired" {
			expired = append(expired, o.ID)
		}
	}
	var errs []error
	errs = append(errs, c.ordersEnded(orders)...)
	errs = append(errs, c.stockAddsUp(orders)...)
	errs = append(errs, c.moneyAddsUp(orders)...)
	errs = append(errs, c.noDeadLetters())
	return expired, errors.Join(errs...)
}

func (c *checker) ordersEnded(orders []order) []error {
	byID := map[string]order{}
	var errs []error
	for _, o := range orders {
		byID[o.ID] = o
		if !terminal[o.Status] {
			errs = append(errs, fmt.Errorf("order %s is %s, not terminal", o.ID, o.Status))
		}
	}
	for _, id := range c.load.ackedIDs() {
		if _, ok := byID[id]; !ok {
			errs = append(errs, fmt.Errorf("acknowledged order %s is missing", id))
		}
	}
	return first(errs, 5)
}

// stockAddsUp compares each product's stock with what the orders that
// were ever confirmed took: a confirmed order that is cancelled later is
// refunded, but its goods have left the warehouse.
func (c *checker) stockAddsUp(orders []order) []error {
	confirmed, err := c.everConfirmed()
	if err != nil {
		return []error{err}
	}
	shipped := map[string]int64{}
	for _, o := range orders {
		if confirmed[o.ID] {
			for _, it := range o.Items {
				shipped[it.ProductID] += it.Quantity
			}
		}
	}
	var errs []error
	for id, start := range c.initial {
		var s stock
		if _, err := c.shop.call(http.MethodGet, "/inventory/"+id, nil, nil, &s); err != nil {
			return []error{err}
		}
		switch {
		case shipped[id] > start:
			errs = append(errs, fmt.Errorf("product %s oversold: %d in stock, confirmed orders took %d", id, start, shipped[id]))
		case s.OnHand != s.Available+s.Reserved || s.Available < 0:
			errs = append(errs, fmt.Errorf("product %s: onHand %d != available %d + reserved %d", id, s.OnHand, s.Available, s.Reserved))
		case s.Reserved != 0 || s.OnHand != start-shipped[id]:
			errs = append(errs, fmt.Errorf("product %s: %+v; started with %d, orders confirmed took %d%s",
				id, s, start, shipped[id], c.uncommitted(id, confirmed, orders)))
		}
	}
	return errs
}

// uncommitted names the orders that were confirmed with some of a
// product but whose stock inventory never committed, with what inventory
// did write for them: what to look at when the stock does not add up.
func (c *checker) uncommitted(product string, confirmed map[string]bool, orders []order) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := map[string][]string{} // order -> the stock events of this product
	err := mesh.ReadStream(ctx, c.js, events.InventoryStream, "inventory.stock."+product+".>", func(msg jetstream.Msg) error {
		var e struct {
			OrderID  string `json:"orderId"`
			Quantity int64  `json:"quantity"`
		}
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			return err
		}
		kind := msg.Subject()[strings.LastIndex(msg.Subject(), ".")+1:]
		seen[e.OrderID] = append(seen[e.OrderID], fmt.Sprintf("%s %d", kind, e.Quantity))
		return nil
	})
	if err != nil {
		return fmt.Sprintf(" (its events: %v)", err)
	}
	var found []string
	for _, o := range orders {
		if confirmed[o.ID] && !slices.ContainsFunc(seen[o.ID], func(e string) bool { return strings.HasPrefix(e, "committed") }) &&
			slices.ContainsFunc(o.Items, func(l line) bool { return l.ProductID == product }) {
			found = append(found, fmt.Sprintf("%s (%s, stock events %v)", o.ID, o.Status, seen[o.ID]))
		}
	}
	if len(found) == 0 {
		return ""
	}
	return "; confirmed without a commit: " + strings.Join(found, ", ")
}

// everConfirmed is the set of orders with a confirmed event in ORDERS.
func (c *checker) everConfirmed() (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	confirmed := map[string]bool{}
	err := mesh.ReadStream(ctx, c.js, events.OrdersStream, "orders.order.*.confirmed", func(msg jetstream.Msg) error {
		confirmed[events.IDOf(msg.Subject())] = true
		return nil
	})
	return confirmed, err
}

// moneyAddsUp reads every payment event from the PAYMENTS stream, so that
// a second capture of one order shows even where the read model would hide it.
func (c *checker) moneyAddsUp(orders []order) []error {
	confirmed := int64(0)
	for _, o := range orders {
		if o.Status == "confirmed" {
			confirmed += o.Total.Amount
		}
	}
	captures, captured, refunded, err := c.payments()
	if err != nil {
		return []error{err}
	}
	var errs []error
	if captured-refunded != confirmed {
		errs = append(errs, fmt.Errorf("captured %d - refunded %d = %d, but confirmed orders total %d", captured, refunded, captured-refunded, confirmed))
	}
	for id, n := range captures {
		if n > 1 {
			errs = append(errs, fmt.Errorf("order %s charged %d times", id, n))
		}
	}
	return errs
}

func (c *checker) payments() (captures map[string]int, captured, refunded int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	captures = map[string]int{}
	err = mesh.ReadStream(ctx, c.js, events.PaymentsStream, "payments.payment.>", func(msg jetstream.Msg) error {
		var e struct {
			OrderID string       `json:"orderId"`
			Amount  events.Money `json:"amount"`
		}
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(msg.Subject(), ".captured"):
			captures[e.OrderID]++
			captured += e.Amount.Amount
		case strings.HasSuffix(msg.Subject(), ".refunded"):
			refunded += e.Amount.Amount
		}
		return nil
	})
	return captures, captured, refunded, err
}

func (c *checker) noDeadLetters() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, mesh.DeadLetterStream)
	if err != nil {
		return err
	}
	if n := s.CachedInfo().State.Msgs; n > 0 {
		return fmt.Errorf("%d dead letters (shopmesh dlq list)", n)
	}
	return nil
}

// first keeps the first n errors and counts the rest.
func first(errs []error, n int) []error {
	if len(errs) <= n {
		return errs
	}
	return append(errs[:n], fmt.Errorf("and %d more", len(errs)-n))
}
