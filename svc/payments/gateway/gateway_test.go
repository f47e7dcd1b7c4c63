package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestChargeIsDeterministicByToken(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	cases := []struct {
		token    string
		captured bool
	}{{TokenVisa, true}, {TokenDeclined, false}, {"tok_unknown", false}}
	for _, c := range cases {
		got, err := g.Charge(context.Background(), c.token, c.token)
		if err != nil || got.Captured != c.captured {
			t.Fatalf("%s: %+v %v, want captured=%v", c.token, got, err, c.captured)
		}
	}
}

func TestChargeIsIdempotentByKey(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	for range 3 {
		if _, err := g.Charge(context.Background(), "order-1", TokenVisa); err != nil {
			t.Fatal(err)
		}
	}
	if g.Captures() != 1 {
		t.Fatalf("%d captures for one key", g.Captures())
	}
}

func TestFailuresAreTransient(t *testing.T) {
	t.Parallel()
	g := New(Options{FailureRate: 1})
	if _, err := g.Charge(context.Background(), "k", TokenVisa); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if g.Captures() != 0 {
		t.Fatal("a failed call took money")
	}
}

func TestLatencyRespectsContext(t *testing.T) {
	t.Parallel()
	g := New(Options{Latency: 1 << 40})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Charge(ctx, "k", TokenVisa); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestTheSlowTokenIsKnownOnlyToASlowGateway(t *testing.T) {
	t.Parallel()
	fast, err := New(Options{}).Charge(context.Background(), "k", TokenSlow)
	if err != nil || fast.Captured {
		t.Fatalf("without Slow, %s: %+v %v, want declined", TokenSlow, fast, err)
	}
	g := New(Options{Slow: 30 * time.Millisecond})
	start := time.Now()
	slow, err := g.Charge(context.Background(), "k", TokenSlow)
	if err != nil || !slow.Captured {
		t.Fatalf("with Slow, %s: %+v %v, want captured", TokenSlow, slow, err)
	}
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Fatalf("the slow charge took %v, under Slow", took)
	}
}
