package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
)

// mall is a running shop seen from a test: HTTP for what customers and
// admins do, JetStream for awaiting events and reading the truth.
type mall struct {
	t    *testing.T
	shop *shop
	http *meshtest.Client
	js   jetstream.JetStream
	nc   *nats.Conn
	opts []option // kept for restart
}

// sagaConfig is the config of a saga test's shop (openMall adds quick
// retries).
func sagaConfig(t *testing.T) config { return testConfig(t) }

func openMall(t *testing.T, cfg config, opts ...option) *mall {
	t.Helper()
	opts = append([]option{quickRetries}, opts...)
	m := &mall{t: t, opts: opts, shop: startTestShop(t, cfg, opts...)}
	t.Cleanup(func() { m.close() })
	m.connect()
	return m
}

func (m *mall) connect() {
	// The mall's requests are the admin's, which may act for any customer;
	// customer_test.go checks what customers may do on their own.
	m.http = meshtest.NewClient(m.t, m.shop.httpURL)
	m.http.Header = meshtest.Admin()
	nc, err := nats.Connect(m.shop.natsURL, operator(m.shop))
	if err != nil {
		m.t.Fatal(err)
	}
	m.nc = nc
	if m.js, err = jetstream.New(nc); err != nil {
		m.t.Fatal(err)
	}
}

// close stops the shop; it is safe to call twice.
func (m *mall) close() {
	if m.nc != nil {
		m.nc.Close()
		m.nc = nil
	}
	if m.shop != nil {
		m.shop.close()
		m.shop = nil
	}
}

// restart stops the process and starts it again on the same data.
func (m *mall) restart(cfg config) {
	m.close()
	m.shop = startTestShop(m.t, cfg, m.opts...)
	m.connect()
}

type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

func (m *mall) product(sku string, price int64, stock int64) string {
	m.t.Helper()
	var p struct{ ID string }
	m.http.Do(http.MethodPost, "/products", map[string]any{
		"sku": sku, "name": "Product " + sku, "price": money{price, "EUR"},
	}, meshtest.Admin()).Expect(http.StatusCreated).Decode(&p)
	if stock > 0 {
		m.http.Do(http.MethodPut, "/inventory/"+p.ID, map[string]any{"onHand": stock}, meshtest.Admin()).Expect(http.StatusOK)
	}
	return p.ID
}

type line struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

type order struct {
	ID         string `json:"id"`
	CustomerID string `json:"customerId"`
	Items      []struct {
		ProductID string `json:"productId"`
		Name      string `json:"name"`
		Quantity  int64  `json:"quantity"`
		UnitPrice money  `json:"unitPrice"`
	} `json:"items"`
	Total     money  `json:"total"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	PaymentID string `json:"paymentId"`
}

func orderBody(customer, token string, lines ...line) map[string]any {
	return map[string]any{"customerId": customer, "items": lines, "paymentToken": token}
}

// place places an order and returns its id.
func (m *mall) place(key, token string, lines ...line) string {
	m.t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	var o order
	r := m.http.Do(http.MethodPost, "/orders", orderBody("alice", token, lines...), h).Expect(http.StatusAccepted)
	r.Decode(&o)
	if o.Status != "pending" && o.Status == "" {
		m.t.Fatalf("placed order has no status: %s", r.Body)
	}
	return o.ID
}

func (m *mall) order(id string) order {
	m.t.Helper()
	var o order
	m.http.Do(http.MethodGet, "/orders/"+id, nil, nil).Expect(http.StatusOK).Decode(&o)
	return o
}

var terminal = map[string]bool{"confirmed": true, "rejected": true, "cancelled": true, "expired": true}

// await watches the orders read model until the order's status satisfies
// ok, and returns the order as the read model holds it then.
func (m *mall) await(id string, ok func(status string) bool) order {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A watch is a consumer, which a cluster electing leaders can refuse
	// for a moment: ask again until the deadline.
	var w jetstream.KeyWatcher
	meshtest.Eventually(m.t, 30*time.Second, func() error {
		kv, err := m.js.KeyValue(ctx, "orders")
		if err == nil {
			w, err = kv.Watch(ctx, id)
		}
		return err
	})
	defer w.Stop()
	var last order
	for {
		select {
		case <-ctx.Done():
			m.logState()
			m.t.Fatalf("order %s stuck at %+v", id, last)
		case e := <-w.Updates():
			if e == nil {
				continue
			}
			var rec struct{ View order }
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				m.t.Fatal(err)
			}
			if last = rec.View; ok(last.Status) {
				return last
			}
		}
	}
}

func (m *mall) awaitTerminal(id string) order {
	return m.await(id, func(s string) bool { return terminal[s] })
}

// awaitReady waits until /readyz says every part of the shop is ready:
// a projection that has just started, or set an event aside, catches up
// first (the timeline's index gathers events before it commits them).
func (m *mall) awaitReady() {
	m.t.Helper()
	meshtest.Eventually(m.t, 20*time.Second, func() error {
		if r := m.http.Do(http.MethodGet, "/readyz", nil, nil); r.Status != http.StatusOK {
			return fmt.Errorf("not ready: %s", r.Body)
		}
		return nil
	})
}

func is(want string) func(string) bool { return func(s string) bool { return s == want } }

type stock struct {
	OnHand    int64 `json:"onHand"`
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
}

func (m *mall) stock(productID string) stock {
	m.t.Helper()
	var s stock
	m.http.Do(http.MethodGet, "/inventory/"+productID, nil, nil).Expect(http.StatusOK).Decode(&s)
	return s
}

type payment struct {
	ID      string `json:"id"`
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	Amount  money  `json:"amount"`
}

func (m *mall) payments(orderID string) []payment {
	m.t.Helper()
	var out struct{ Items []payment }
	m.http.Do(http.MethodGet, "/payments?orderId="+orderID, nil, nil).Expect(http.StatusOK).Decode(&out)
	return out.Items
}

// events reads every message of a stream matching filter.
func (m *mall) events(stream, filter string) []jetstream.Msg {
	m.t.Helper()
	var out []jetstream.Msg
	err := mesh.ReadStream(meshtest.Context(m.t), m.js, stream, filter, func(msg jetstream.Msg) error {
		out = append(out, msg)
		return nil
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// logState writes the streams and consumers to the test log, to explain a
// saga that did not finish.
func (m *mall) logState() {
	ctx := context.Background()
	for _, stream := range []string{"ORDERS", "INVENTORY", "PAYMENTS", "DEADLETTER"} {
		for _, msg := range m.events(stream, ">") {
			m.t.Log(stream, msg.Subject(), string(msg.Data()))
		}
		s, err := m.js.Stream(ctx, stream)
		if err != nil {
			continue
		}
		for info := range s.ListConsumers(ctx).Info() {
			m.t.Logf("consumer %s: pending %d, in flight %d, redelivered %d", info.Name, info.NumPending, info.NumAckPending, info.NumRedelivered)
		}
	}
}

// operator connects as the shop's operator user, who may do anything: its
// password is the shop's own, or, for an external server, the environment's.
func operator(s *shop) nats.Option {
	pw, ok := s.creds[natsauth.Admin]
	if !ok {
		pw = os.Getenv(natsauth.PasswordVar(natsauth.Admin))
	}
	return nats.UserInfo(natsauth.Admin, pw)
}
