package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/schemas"
)

// checkInvariants waits until the mesh is idle and then confirms what must
// hold after any run: every order is terminal; for every product nothing is
// reserved any more, onHand = available + reserved, and onHand is what it
// started at less what confirmed orders shipped; captured minus refunded
// money equals the total of confirmed orders; no order was charged twice;
// and every event in every stream matches its schema. initial maps each
// product to the stock it was given.
func (m *mall) checkInvariants(initial map[string]int64) {
	m.t.Helper()
	m.awaitIdle()
	orders := m.allOrders()
	confirmedTotal := int64(0)
	for _, o := range orders {
		if !terminal[o.Status] {
			m.t.Errorf("order %s ends %s, not terminal", o.ID, o.Status)
		}
		if o.Status == "confirmed" {
			confirmedTotal += o.Total.Amount
		}
	}
	m.checkStock(initial)
	m.checkMoney(confirmedTotal)
	m.checkSchemas()
}

// awaitIdle waits until no reaction has work pending or in flight.
func (m *mall) awaitIdle() {
	m.t.Helper()
	ctx := meshtest.Context(m.t)
	meshtest.Eventually(m.t, 30*time.Second, func() error {
		for _, stream := range []string{events.OrdersStream, events.InventoryStream, events.PaymentsStream} {
			s, err := m.js.Stream(ctx, stream)
			if err != nil {
				return fmt.Errorf("%s: %w", stream, err)
			}
			consumers := s.ListConsumers(ctx)
			for info := range consumers.Info() {
				if info.Config.Durable != "" && (info.NumPending > 0 || info.NumAckPending > 0) {
					return errorf("consumer %s: %d pending, %d in flight", info.Name, info.NumPending, info.NumAckPending)
				}
			}
			if err := consumers.Err(); err != nil {
				return fmt.Errorf("consumers of %s: %w", stream, err)
			}
		}
		return nil
	})
}

func (m *mall) allOrders() []order {
	m.t.Helper()
	var all []order
	cursor := ""
	for {
		var page struct {
			Items      []order
			NextCursor string
		}
		m.http.Do(http.MethodGet, "/orders?limit=100&cursor="+cursor, nil, nil).Expect(http.StatusOK).Decode(&page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

func (m *mall) checkStock(initial map[string]int64) {
	m.t.Helper()
	shipped := map[string]int64{}
	for _, msg := range m.events(events.InventoryStream, "inventory.stock.*.committed") {
		var e events.StockCommitted
		mustDecode(m.t, msg.Data(), &e)
		shipped[e.ProductID] += e.Quantity
	}
	confirmed := map[string]int64{}
	for _, msg := range m.events(events.OrdersStream, "orders.order.*.confirmed") {
		o := m.order(events.IDOf(msg.Subject()))
		for _, it := range o.Items {
			confirmed[it.ProductID] += it.Quantity
		}
	}
	for id, start := range initial {
		s := m.stock(id)
		if s.OnHand != s.Available+s.Reserved || s.Available < 0 || s.Reserved != 0 {
			m.t.Errorf("product %s: %+v; want nothing reserved and onHand = available + reserved", id, s)
		}
		if s.OnHand != start-shipped[id] || shipped[id] != confirmed[id] {
			m.t.Errorf("product %s: on hand %d, started %d, shipped %d, confirmed orders took %d",
				id, s.OnHand, start, shipped[id], confirmed[id])
		}
	}
}

func (m *mall) checkMoney(confirmedTotal int64) {
	m.t.Helper()
	var captured, refunded int64
	charges := map[string]int{}
	for _, msg := range m.events(events.PaymentsStream, "payments.payment.>") {
		switch {
		case strings.HasSuffix(msg.Subject(), ".captured"):
			var e events.PaymentCaptured
			mustDecode(m.t, msg.Data(), &e)
			captured += e.Amount.Amount
			charges[e.OrderID]++
		case strings.HasSuffix(msg.Subject(), ".refunded"):
			var e events.PaymentRefunded
			mustDecode(m.t, msg.Data(), &e)
			refunded += e.Amount.Amount
		}
	}
	if captured-refunded != confirmedTotal {
		m.t.Errorf("captured %d - refunded %d = %d, but confirmed orders total %d", captured, refunded, captured-refunded, confirmedTotal)
	}
	for id, n := range charges {
		if n > 1 {
			m.t.Errorf("order %s captured %d times", id, n)
		}
	}
}

func (m *mall) checkSchemas() {
	m.t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		m.t.Fatal(err)
	}
	ctx := meshtest.Context(m.t)
	for _, stream := range []string{events.ProductsStream, events.InventoryStream, events.PaymentsStream} {
		if _, err := v.ValidateStream(ctx, m.js, stream); err != nil {
			m.t.Errorf("stream %s: %v", stream, err)
		}
	}
	for _, msg := range m.events(events.OrdersStream, "orders.order.>") {
		if err := v.Validate(msg.Headers().Get("ce-type"), msg.Data()); err != nil {
			m.t.Errorf("%s: %v", msg.Subject(), err)
		}
	}
}

func mustDecode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
