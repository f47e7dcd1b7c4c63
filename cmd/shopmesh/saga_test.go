package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

func TestSagaHappyPath(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 1200, 10)
	// An earlier order of the same product, then a pause: the timeline of
	// the next reads the product's stock events from a start time between
	// the two, and must still find its own.
	m.awaitTerminal(m.place("k0", "tok_visa", line{mug, 1}))
	time.Sleep(1500 * time.Millisecond) // the scenario is a pause, not a wait for an event
	id := m.place("k1", "tok_visa", line{mug, 3})
	o := m.awaitTerminal(id)
	if o.Status != "confirmed" || o.Total.Amount != 3600 || o.Items[0].Name != "Product MUG" {
		t.Fatalf("order ended %+v", o)
	}
	m.checkInvariants(map[string]int64{mug: 10})
	if s := m.stock(mug); s.OnHand != 6 || s.Available != 6 {
		t.Fatalf("stock after confirmed orders of 1 and 3: %+v", s)
	}
	ps := m.payments(id)
	if len(ps) != 1 || ps[0].Status != "captured" || ps[0].Amount.Amount != 3600 {
		t.Fatalf("payments %+v", ps)
	}
	var timeline struct {
		Events []struct{ Service, Type, Subject string }
	}
	m.http.Do(http.MethodGet, "/orders/"+id+"/timeline", nil, nil).Expect(http.StatusOK).Decode(&timeline)
	var seen []string
	for _, e := range timeline.Events {
		seen = append(seen, e.Subject[strings.LastIndex(e.Subject, ".")+1:])
	}
	want := "placed reserved accepted stock_reserved captured confirmed committed committed"
	if strings.Join(seen, " ") != want {
		t.Fatalf("timeline %v, want %s", seen, want)
	}
}

func TestSagaOutOfStockRejectsWholeOrder(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	plenty := m.product("PLENTY", 100, 10)
	scarce := m.product("SCARCE", 100, 1)
	id := m.place("", "tok_visa", line{plenty, 2}, line{scarce, 2})
	o := m.awaitTerminal(id)
	if o.Status != "rejected" || !strings.Contains(o.Reason, scarce) || strings.Contains(o.Reason, plenty) {
		t.Fatalf("order ended %+v; want rejected naming only %s", o, scarce)
	}
	m.checkInvariants(map[string]int64{plenty: 10, scarce: 1})
	if s := m.stock(plenty); s.Available != 10 {
		t.Fatalf("stock held for a rejected order: %+v", s)
	}
	if ps := m.payments(id); len(ps) != 0 {
		t.Fatalf("rejected order has payments %+v", ps)
	}
}

func TestSagaDeclinedPaymentCancelsAndReleases(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 500, 5)
	id := m.place("", "tok_chargeDeclined", line{mug, 5})
	o := m.awaitTerminal(id)
	if o.Status != "cancelled" || !strings.Contains(o.Reason, "declined") {
		t.Fatalf("order ended %+v", o)
	}
	m.checkInvariants(map[string]int64{mug: 5})
	if s := m.stock(mug); s.Available != 5 {
		t.Fatalf("reservation not released: %+v", s)
	}
}

func TestSagaCustomerCancels(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	cfg.GatewayLatency = 2 * time.Second // the cancel must land while payment is pending
	m := openMall(t, cfg)
	mug := m.product("MUG", 700, 10)

	waiting := m.place("", "tok_visa", line{mug, 4})
	m.await(waiting, is("awaiting_payment"))
	var o order
	m.http.Do(http.MethodPost, "/orders/"+waiting+"/cancel", nil, nil).Expect(http.StatusOK).Decode(&o)
	if o.Status != "cancelled" {
		t.Fatalf("cancel while awaiting payment: %+v", o)
	}

	paid := m.place("", "tok_visa", line{mug, 2})
	m.await(paid, is("confirmed"))
	m.http.Do(http.MethodPost, "/orders/"+paid+"/cancel", nil, nil).Expect(http.StatusOK)
	m.http.Do(http.MethodPost, "/orders/"+paid+"/cancel", nil, nil).Problem(http.StatusConflict)
	m.http.Do(http.MethodPost, "/orders/nope/cancel", nil, nil).Problem(http.StatusNotFound)

	m.checkInvariants(map[string]int64{mug: 10})
	if ps := m.payments(paid); len(ps) != 1 || ps[0].Status != "refunded" {
		t.Fatalf("cancelled confirmed order not refunded: %+v", ps)
	}
	if s := m.stock(mug); s.OnHand != 8 || s.Available != 8 {
		t.Fatalf("stock %+v: the waiting order's 4 must be back, the shipped 2 gone", s)
	}
}

func TestSagaExpiryReleasesStockAndRefundsLateCapture(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	cfg.OrderTTL = time.Second
	cfg.GatewayLatency = 4 * time.Second // well past the deadline, which fires 1-2 s after placement
	m := openMall(t, cfg)
	mug := m.product("MUG", 900, 3)
	id := m.place("", "tok_visa", line{mug, 3})
	o := m.awaitTerminal(id)
	if o.Status != "expired" {
		t.Fatalf("order ended %+v, want expired", o)
	}
	m.checkInvariants(map[string]int64{mug: 3})
	ps := m.payments(id)
	if len(ps) != 1 || ps[0].Status != "refunded" {
		t.Fatalf("late capture not refunded: %+v", ps)
	}
	if s := m.stock(mug); s.Available != 3 {
		t.Fatalf("expired order's stock not released: %+v", s)
	}
}

func TestSagaAdminRefundCancelsTheOrder(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 300, 2)
	id := m.place("", "tok_visa", line{mug, 1})
	o := m.await(id, is("confirmed"))
	m.http.Do(http.MethodPost, "/payments/"+o.PaymentID+"/refund", nil, meshtest.Anonymous()).Problem(http.StatusUnauthorized)
	m.http.Do(http.MethodPost, "/payments/"+o.PaymentID+"/refund", nil, meshtest.Admin()).Expect(http.StatusOK)
	m.await(id, is("cancelled"))
	m.http.Do(http.MethodPost, "/payments/"+o.PaymentID+"/refund", nil, meshtest.Admin()).Problem(http.StatusConflict)
	m.checkInvariants(map[string]int64{mug: 2})
}

func TestOneTraceFollowsTheOrderThroughEveryService(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	spans := tracetest.NewSpanRecorder()
	m := openMall(t, cfg, spansTo(spans))
	mug := m.product("MUG", 100, 5)
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	var o order
	r := m.http.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", line{mug, 1}),
		http.Header{"Traceparent": {"00-" + traceID + "-" + callerSpan + "-01"}}).Expect(http.StatusAccepted)
	r.Decode(&o)
	if !strings.Contains(r.Header.Get("traceparent"), traceID) {
		t.Fatalf("response traceparent %q is not in the caller's trace", r.Header.Get("traceparent"))
	}
	m.await(o.ID, is("confirmed"))
	m.awaitIdle()
	for stream, filter := range map[string]string{
		"ORDERS": "orders.order." + o.ID + ".*", "INVENTORY": "inventory.reservation." + o.ID + ".*", "PAYMENTS": "payments.payment." + o.ID + ".*",
	} {
		for _, msg := range m.events(stream, filter) {
			if got := msg.Headers().Get("traceparent"); !strings.Contains(got, traceID) {
				t.Errorf("%s carries traceparent %q, not in trace %s", msg.Subject(), got, traceID)
			}
		}
	}
	checkSpanTree(t, spans.Ended(), traceID, callerSpan, []string{
		"POST /orders", "command orders.place", "command inventory.reserve", "command orders.record_reservation",
		"command payments.charge", "command orders.record_capture", "command inventory.commit",
	})
}

// checkSpanTree confirms that the trace holds the named spans and that each
// span's parent is in the trace too (the root's is the caller's span).
func checkSpanTree(t *testing.T, ended []sdktrace.ReadOnlySpan, traceID, root string, want []string) {
	t.Helper()
	ids := map[string]bool{root: true}
	names := map[string]bool{}
	var inTrace []sdktrace.ReadOnlySpan
	for _, s := range ended {
		if s.SpanContext().TraceID().String() == traceID {
			ids[s.SpanContext().SpanID().String()] = true
			names[s.Name()] = true
			inTrace = append(inTrace, s)
		}
	}
	for _, s := range inTrace {
		if !ids[s.Parent().SpanID().String()] {
			t.Errorf("span %q has a parent outside the trace", s.Name())
		}
	}
	for _, n := range want {
		if !names[n] {
			t.Errorf("trace lacks span %q; has %v", n, names)
		}
	}
}

// GET /orders/changes streams every change of an order as it happens, so a
// client follows the saga without polling.
func TestOrderChangesStreamTheSaga(t *testing.T) {
	t.Parallel()
	m := openMall(t, sagaConfig(t))
	mug := m.product("MUG", 500, 5)
	changes, err := watchOrders(meshtest.Context(t), http.DefaultClient, m.http.URL, meshtest.AdminToken, "customerId=alice")
	if err != nil {
		t.Fatal(err)
	}
	id := m.place("watched", "tok_visa", line{mug, 1})
	var seen []string
	for c := range changes {
		if c.ID != id {
			continue
		}
		seen = append(seen, c.Status)
		if terminal[c.Status] {
			break
		}
	}
	if strings.Join(seen, " ") != "pending awaiting_payment confirmed" {
		t.Fatalf("statuses streamed: %v", seen)
	}
}

// A malformed event is set aside, and a headerless message of no known type
// on an entity's subjects is skipped (ADR 12): no service stops, the entity
// they were about can still be written, and so after a restart (issue 7's
// first two findings, reproduced).
func TestPoisonMessagesWedgeNothing(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	m := openMall(t, cfg)
	mug := m.product("MUG", 100, 10)
	ctx := meshtest.Context(t)
	poison := nats.NewMsg("orders.order.POISON.placed")
	poison.Data = []byte("{not json")
	poison.Header.Set(mesh.HeaderType, "shopmesh.orders.order.placed.v1")
	if _, err := m.js.PublishMsg(ctx, poison); err != nil {
		t.Fatal(err)
	}
	if _, err := m.js.Publish(ctx, "inventory.stock."+mug+".adjusted", []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		m.http.Do(http.MethodPut, "/inventory/"+mug, map[string]any{"onHand": 10 + round}, meshtest.Admin()).Expect(http.StatusOK)
		id := m.place(fmt.Sprint("after-poison-", round), "tok_visa", line{mug, 1})
		if o := m.awaitTerminal(id); o.Status != "confirmed" {
			t.Fatalf("round %d: order %+v", round, o)
		}
		m.awaitReady()
		m.restart(cfg)
	}
	dead, err := ops.DeadLetters(ctx, m.js)
	if err != nil {
		t.Fatal(err)
	}
	setAside := map[string]bool{}
	for _, d := range dead {
		setAside[d.Consumer+" "+d.Subject] = true
	}
	for _, want := range []string{"orders-projection orders.order.POISON.placed", "inventory-on-orders orders.order.POISON.placed"} {
		if !setAside[want] {
			t.Errorf("not set aside: %s (dead letters: %v)", want, setAside)
		}
	}
	if len(setAside) != 2 {
		t.Errorf("dead letters %v, want only the malformed event's", setAside)
	}
}

// A capture that does not pay its order, even from the payments service's
// own user (the only one that may write payments' events), confirms
// nothing: orders sets it aside with its reason. One for an order nobody
// placed waits for the order (on a lagging replica it could be ahead of
// it), and is set aside once it is ReactionOptions.AheadFor old. Payments takes its own
// stream as fact, so it charges no more; the order expires unpaid, and
// payments gives the forged amount back, keeping the money invariant
// (issue 7's fifth finding, reproduced).
func TestCaptureThatDoesNotPayItsOrderIsSetAside(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	cfg.GatewayLatency = time.Second // the order waits for its payment meanwhile
	cfg.OrderTTL = 3 * time.Second
	m := openMall(t, cfg)
	mug := m.product("MUG", 450, 10)
	id := m.place("forged-capture", "tok_visa", line{mug, 2})
	m.await(id, is("awaiting_payment"))

	nc, err := nats.Connect(m.shop.natsURL, natsauth.Options(events.PaymentsService, m.shop.creds)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := meshtest.Context(t)
	pub := mesh.NewPublisher(js, "shopmesh/payments", nil)
	for _, forged := range []events.PaymentCaptured{
		{PaymentID: "pay_forged", OrderID: id, Amount: events.Money{Amount: 1, Currency: "EUR"}},
		{PaymentID: "pay_nowhere", OrderID: "NO-SUCH-ORDER", Amount: events.Money{Amount: 900, Currency: "EUR"}},
	} {
		if _, err := pub.Publish(ctx, mesh.Cause{ID: forged.PaymentID}, mesh.Outgoing{Event: forged}); err != nil {
			t.Fatal(err)
		}
	}
	meshtest.Eventually(t, 10*time.Second, func() error {
		dead, err := ops.DeadLetters(ctx, m.js)
		if err != nil {
			return err
		}
		var mismatch, unknown bool
		for _, d := range dead {
			switch {
			case d.Consumer != "orders-on-payments":
			case strings.Contains(d.Subject, "NO-SUCH-ORDER"):
				unknown = strings.Contains(d.Error, "is not known yet")
			default:
				mismatch = strings.Contains(d.Error, "capture does not pay its order")
			}
		}
		if !mismatch || !unknown {
			return fmt.Errorf("dead letters %+v, want both forged captures, each with its reason", dead)
		}
		return nil
	})
	if o := m.awaitTerminal(id); o.Status != "expired" {
		t.Fatalf("order paid by a forged capture: %+v", o)
	}
	meshtest.Eventually(t, 10*time.Second, func() error {
		if ps := m.payments(id); len(ps) != 1 || ps[0].Status != "refunded" || ps[0].Amount.Amount != 1 {
			return fmt.Errorf("payments of the order: %+v, want the forged cent refunded", ps)
		}
		return nil
	})
}
