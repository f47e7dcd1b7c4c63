package orders_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/schemas"
)

// What a test of orders alone does through HTTP, and how it plays the
// other services' part of an order's saga.

// product puts a product in the catalog replica, as the catalog would.
func (s *shop) product(id string, price int64) string {
	s.t.Helper()
	s.publish(events.ProductsService, events.ProductCreated{ProductID: id, ProductFields: events.ProductFields{
		SKU: id, Name: "Product " + id, Price: events.Money{Amount: price, Currency: "EUR"}}})
	return id
}

type line struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

func orderBody(customer, token string, lines ...line) map[string]any {
	return map[string]any{"customerId": customer, "items": lines, "paymentToken": token}
}

// order is an order as GET /orders/{id} shows it.
type order struct {
	ID         string             `json:"id"`
	CustomerID string             `json:"customerId"`
	Items      []events.OrderItem `json:"items"`
	Total      events.Money       `json:"total"`
	Status     string             `json:"status"`
	Reason     string             `json:"reason"`
	PaymentID  string             `json:"paymentId"`
}

// place places an order for alice, under the Idempotency-Key if one is
// given, and returns its id.
func (s *shop) place(key, token string, lines ...line) string {
	s.t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	var o order
	s.http.Do(http.MethodPost, "/orders", orderBody("alice", token, lines...), h).Expect(http.StatusAccepted).Decode(&o)
	if o.Status == "" {
		s.t.Fatalf("placed order %s has no status", o.ID)
	}
	return o.ID
}

func (s *shop) order(id string) order {
	s.t.Helper()
	var o order
	s.http.Do(http.MethodGet, "/orders/"+id, nil, nil).Expect(http.StatusOK).Decode(&o)
	return o
}

// pay plays inventory accepting the order, then payments capturing its
// total, and waits until it is confirmed.
func (s *shop) pay(id string) order {
	s.t.Helper()
	s.accept(id)
	s.await(id, "awaiting_payment")
	s.publish(events.PaymentsService, events.PaymentCaptured{PaymentID: "pay_" + id, OrderID: id, Amount: s.order(id).Total})
	return s.await(id, "confirmed")
}

// accept plays inventory reserving every line of the order.
func (s *shop) accept(id string) {
	s.t.Helper()
	items := s.order(id).Items
	lines := make([]events.Line, len(items))
	for i, it := range items {
		lines[i] = events.Line{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	s.publish(events.InventoryService, events.ReservationAccepted{OrderID: id, Lines: lines})
}

// decline plays inventory accepting the order and payments failing to
// charge it, and waits until it is cancelled.
func (s *shop) decline(id string) order {
	s.t.Helper()
	s.accept(id)
	s.await(id, "awaiting_payment")
	s.publish(events.PaymentsService, events.PaymentDeclined{PaymentID: "pay_" + id, OrderID: id, Reason: "card declined"})
	return s.await(id, "cancelled")
}

var terminal = map[string]bool{"confirmed": true, "rejected": true, "cancelled": true, "expired": true}

// await watches the orders read model until the order has the status
// wanted ("" for any terminal one), and returns it as the read model holds
// it then.
func (s *shop) await(id, want string) order {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := s.js.KeyValue(ctx, "orders")
	if err != nil {
		s.t.Fatal(err)
	}
	w, err := kv.Watch(ctx, id)
	if err != nil {
		s.t.Fatal(err)
	}
	defer w.Stop()
	var last order
	for {
		select {
		case <-ctx.Done():
			s.t.Fatalf("order %s stuck at %+v, want %q", id, last, want)
		case e := <-w.Updates():
			if e == nil {
				continue
			}
			var rec struct{ View order }
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				s.t.Fatal(err)
			}
			if last = rec.View; last.Status == want || (want == "" && terminal[last.Status]) {
				return last
			}
		}
	}
}

// checkInvariants checks what the whole mesh's invariants ask of orders
// alone: every order the shop lists has ended, and every event in its
// stream matches its schema. (Stock and money are inventory's and
// payments', checked in their packages and by the saga tests.)
func (s *shop) checkInvariants() {
	s.t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, msg := range s.events(events.OrdersStream, "orders.order.>") { // not the timers
		if err := v.Validate(msg.Headers().Get(mesh.HeaderType), msg.Data()); err != nil {
			s.t.Errorf("%s: %v", msg.Subject(), err)
		}
	}
	for cursor := ""; ; {
		var p struct {
			Items      []order
			NextCursor string
		}
		s.http.Do(http.MethodGet, "/orders?limit=100&cursor="+cursor, nil, nil).Expect(http.StatusOK).Decode(&p)
		for _, o := range p.Items {
			if !terminal[o.Status] {
				s.t.Errorf("order %s is still %s", o.ID, o.Status)
			}
		}
		if cursor = p.NextCursor; cursor == "" {
			return
		}
	}
}

// events reads every message of a stream matching filter.
func (s *shop) events(stream, filter string) []jetstream.Msg {
	s.t.Helper()
	var out []jetstream.Msg
	err := mesh.ReadStream(meshtest.Context(s.t), s.js, stream, filter, func(msg jetstream.Msg) error {
		out = append(out, msg)
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// customer returns a client that speaks for one customer, with a token the
// admin had issued.
func (s *shop) customer(id string) *meshtest.Client {
	s.t.Helper()
	c := meshtest.NewClient(s.t, s.http.URL)
	c.Header = http.Header{"Authorization": {"Bearer " + s.token(id)}}
	return c
}

func (s *shop) token(customer string) string {
	s.t.Helper()
	var tok struct{ Token string }
	s.http.Do(http.MethodPost, "/orders/customer-tokens", map[string]any{"customerId": customer}, nil).Expect(http.StatusOK).Decode(&tok)
	return tok.Token
}

// orderChange is an order as GET /orders/changes sends it.
type orderChange struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// watch follows GET /orders/changes with token and sends each order event.
// It returns once the shop follows changes for it; the channel closes when
// the test ends.
func (s *shop) watch(token, query string) <-chan orderChange {
	s.t.Helper()
	req, err := http.NewRequestWithContext(meshtest.Context(s.t), http.MethodGet, s.http.URL+"/orders/changes?"+query, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /orders/changes: %s", resp.Status)
	}
	out, watching := make(chan orderChange, 64), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(out)
		defer resp.Body.Close()
		readEvents(resp, func(event, data string) {
			var o orderChange
			switch {
			case event == "watching":
				once.Do(func() { close(watching) })
			case event == "order" && json.Unmarshal([]byte(data), &o) == nil:
				out <- o
			}
		})
	}()
	select {
	case <-watching:
	case <-time.After(10 * time.Second):
		s.t.Fatal("GET /orders/changes never began")
	}
	return out
}

// readEvents calls on for each event of a text/event-stream body.
func readEvents(resp *http.Response, on func(event, data string)) {
	lines := bufio.NewScanner(resp.Body)
	event, data := "message", ""
	for lines.Scan() {
		switch line := lines.Text(); {
		case line == "":
			on(event, data)
			event, data = "message", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
}

// awaitIdle waits until the durable consumer has nothing pending or in
// flight.
func (s *shop) awaitIdle(stream, durable string) {
	s.t.Helper()
	ctx := meshtest.Context(s.t)
	meshtest.Eventually(s.t, 20*time.Second, func() error {
		c, err := s.js.Consumer(ctx, stream, durable)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return fmt.Errorf("consumer %s: %d pending, %d in flight", durable, info.NumPending, info.NumAckPending)
		}
		return nil
	})
}
