package app_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/svc/payments"
	"github.com/shopmesh/shopmesh/svc/payments/app"
	"github.com/shopmesh/shopmesh/svc/payments/domain"
	"github.com/shopmesh/shopmesh/svc/payments/store"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// gateway is a fake payment gateway: it captures every token but
// "declined", counts the charges it is asked for, and, when hold is set,
// answers only once hold is closed.
type gateway struct {
	mu      sync.Mutex
	charges map[string]int
	hold    chan struct{}
	asked   chan struct{} // closed on the first charge, when hold is set
}

func (g *gateway) Charge(ctx context.Context, key, token string) (domain.Charge, error) {
	g.mu.Lock()
	g.charges[key]++
	g.mu.Unlock()
	if g.hold != nil {
		close(g.asked)
		select {
		case <-g.hold:
		case <-ctx.Done():
			return domain.Charge{}, ctx.Err()
		}
	}
	if token == "declined" {
		return domain.Charge{Reason: "card declined"}, nil
	}
	return domain.Charge{Captured: true}, nil
}

func (g *gateway) chargesOf(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.charges[key]
}

// fixture is the payments application on an embedded JetStream, without
// its HTTP operations or reactions, charging through a fake gateway. It is
// built as the service builds it (payments.NewApp), with a real
// mesh.Writer, so the state behind it is the real store.
type fixture struct {
	t       *testing.T
	js      jetstream.JetStream
	app     app.Application
	state   app.State
	gateway *gateway
	causes  int
}

func newFixture(t *testing.T, g *gateway) *fixture {
	t.Helper()
	n := meshtest.Node(t)
	ctx := meshtest.Context(t)
	plan := payments.New(nil).Plan()
	rt := meshtest.Open(t, n, plan)
	st, w, err := mesh.Project(ctx, rt, store.New)
	if err != nil {
		t.Fatal(err)
	}
	g.charges = map[string]int{}
	return &fixture{t: t, js: n.JS, app: payments.NewApp(st, w, g, rt.Observer()), state: st, gateway: g}
}

func (f *fixture) cause() mesh.Cause {
	f.causes++
	return mesh.Cause{ID: "cmd-" + strconv.Itoa(f.causes)}
}

var tenEuros = events.Money{Amount: 1000, Currency: "EUR"}

func (f *fixture) charge(orderID, token string) error {
	return f.app.Commands.Charge.Handle(meshtest.Context(f.t), app.ChargeOrder{Cause: f.cause(), OrderID: orderID, Amount: tenEuros, Token: token})
}

func (f *fixture) close(orderID string) {
	f.t.Helper()
	if err := f.app.Commands.Close.Handle(meshtest.Context(f.t), app.CloseOrder{Cause: f.cause(), OrderID: orderID, Reason: "order cancelled"}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) refund(paymentID string) error {
	return f.app.Commands.Refund.Handle(meshtest.Context(f.t), app.RefundPayment{RequestID: f.cause().ID, PaymentID: paymentID, Reason: "refunded by an admin"})
}

func (f *fixture) expectStatus(orderID, status string) domain.Payment {
	f.t.Helper()
	snap, err := f.state.Read(orderID)
	if err != nil {
		f.t.Fatal(err)
	}
	if snap.Payment.Status != status {
		f.t.Fatalf("payment of %s is %+v, want %s", orderID, snap.Payment, status)
	}
	return snap.Payment
}

// An order is charged once, whatever the gateway answered and however
// often the charge is asked for.
func TestChargeNeverTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &gateway{})
	cases := []struct{ order, token, status string }{
		{"o1", "tok_visa", domain.StatusCaptured},
		{"o2", "declined", domain.StatusDeclined},
	}
	for _, c := range cases {
		for range 3 {
			if err := f.charge(c.order, c.token); err != nil {
				t.Fatal(err)
			}
		}
		f.expectStatus(c.order, c.status)
		if n := f.gateway.chargesOf(c.order); n != 1 {
			t.Errorf("%s charged %d times, want once", c.order, n)
		}
	}
}

// Closing an order refunds what was captured, declines a payment not yet
// made (so no later charge happens), and leaves a declined one alone.
func TestCloseRefundsCapturedMoney(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &gateway{})
	if err := f.charge("o1", "tok_visa"); err != nil {
		t.Fatal(err)
	}
	f.close("o1")
	f.close("o1")
	p := f.expectStatus("o1", domain.StatusRefunded)
	if p.Version != 2 || p.Amount != tenEuros {
		t.Fatalf("refunded payment %+v, want version 2 (captured, refunded) of %v", p, tenEuros)
	}

	f.close("o2") // ended before its charge
	f.expectStatus("o2", domain.StatusDeclined)
	if err := f.charge("o2", "tok_visa"); err != nil {
		t.Fatal(err)
	}
	f.expectStatus("o2", domain.StatusDeclined)
	if n := f.gateway.chargesOf("o2"); n != 0 {
		t.Fatalf("an order closed before payment was charged %d times", n)
	}
}

// A capture the gateway answers after the order was closed is recorded
// with its refund at once: no money is kept for an order that ended.
func TestLateCaptureAfterCloseIsRefunded(t *testing.T) {
	t.Parallel()
	g := &gateway{hold: make(chan struct{}), asked: make(chan struct{})}
	f := newFixture(t, g)
	charged := make(chan error, 1)
	go func() { charged <- f.charge("o1", "tok_visa") }()
	<-g.asked
	f.close("o1") // while the gateway is busy
	f.expectStatus("o1", domain.StatusDeclined)
	close(g.hold)
	if err := <-charged; err != nil {
		t.Fatal(err)
	}
	p := f.expectStatus("o1", domain.StatusRefunded)
	if p.Version != 3 || p.Reason != "payment arrived after the order ended" {
		t.Fatalf("late capture %+v, want declined, captured and refunded", p)
	}
	// All or none: a crash between the two would keep the money. The
	// stream holds the capture and the refund as one atomic batch.
	batches := map[string]string{} // event type: its batch
	err := mesh.ReadStream(meshtest.Context(t), f.js, events.PaymentsStream, "payments.payment.>", func(m jetstream.Msg) error {
		batches[m.Headers().Get("ce-type")] = m.Headers().Get(jetstreamext.BatchIDHeader)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	captured, refunded := batches[events.PaymentCaptured{}.EventType()], batches[events.PaymentRefunded{}.EventType()]
	if captured == "" || captured != refunded {
		t.Fatalf("capture in batch %q, refund in batch %q, want one batch", captured, refunded)
	}
}

// Only a captured payment can be refunded, once.
func TestRefundRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &gateway{})
	for _, order := range []string{"o1", "o2"} {
		if err := f.charge(order, map[string]string{"o1": "tok_visa", "o2": "declined"}[order]); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, payment string
		want          error
	}{
		{"unknown payment", domain.IDFor("nope"), domain.ErrNotFound},
		{"not a payment id", "o1", domain.ErrNotFound},
		{"declined", domain.IDFor("o2"), domain.ErrNotRefundable},
		{"captured", domain.IDFor("o1"), nil},
		{"refunded", domain.IDFor("o1"), domain.ErrNotRefundable},
	}
	for _, c := range cases {
		if err := f.refund(c.payment); !errors.Is(err, c.want) {
			t.Errorf("refund %s: %v, want %v", c.name, err, c.want)
		}
	}
	f.expectStatus("o1", domain.StatusRefunded)
	p, err := f.app.Queries.Get.Handle(meshtest.Context(t), app.GetPayment{ID: domain.IDFor("o1")})
	if err != nil || p.Status != domain.StatusRefunded || p.OrderID != "o1" {
		t.Fatalf("refunded payment read as %+v, %v", p, err)
	}
}
