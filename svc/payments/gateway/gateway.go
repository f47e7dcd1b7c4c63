// Package gateway simulates a card payment gateway: deterministic by token,
// with optional latency and transient failures for chaos runs. Like a real
// gateway it is idempotent by key: a retried charge returns the first
// answer and never takes money twice.
package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shopmesh/shopmesh/svc/payments/domain"
)

// ErrUnavailable is a transient failure: try again later.
var ErrUnavailable = errors.New("payment gateway unavailable")

// Tokens the simulated gateway knows.
const (
	TokenVisa     = "tok_visa"
	TokenDeclined = "tok_chargeDeclined"
	// TokenSlow succeeds after Options.Slow, as a card whose bank is slow
	// to answer: an order that waits long enough to be cancelled or to
	// expire. Without Options.Slow it is not a token the gateway knows.
	TokenSlow = "tok_slow"
)

// Options inject slowness and failures.
type Options struct {
	Latency     time.Duration
	FailureRate float64
	// Slow is how long a charge with TokenSlow takes, on top of Latency.
	Slow time.Duration
}

// Gateway is the simulated gateway.
type Gateway struct {
	opts    Options
	mu      sync.Mutex
	charges map[string]domain.Charge
}

// New returns a gateway with the given behaviour.
func New(opts Options) *Gateway {
	return &Gateway{opts: opts, charges: map[string]domain.Charge{}}
}

// Charge takes amount from the card behind token, once per key.
func (g *Gateway) Charge(ctx context.Context, key, token string) (domain.Charge, error) {
	select {
	case <-ctx.Done():
		return domain.Charge{}, ctx.Err()
	case <-time.After(g.latency(token)):
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.opts.FailureRate > 0 && rand.Float64() < g.opts.FailureRate {
		return domain.Charge{}, ErrUnavailable
	}
	if c, ok := g.charges[key]; ok {
		return c, nil
	}
	c := g.answer(token)
	g.charges[key] = c
	return c, nil
}

// latency is how long a charge with token takes.
func (g *Gateway) latency(token string) time.Duration {
	if token == TokenSlow && g.opts.Slow > 0 {
		return g.opts.Latency + g.opts.Slow
	}
	return g.opts.Latency
}

func (g *Gateway) answer(token string) domain.Charge {
	switch {
	case token == TokenSlow && g.opts.Slow > 0:
		return domain.Charge{Captured: true}
	case token == TokenVisa:
		return domain.Charge{Captured: true}
	case token == TokenDeclined:
		return domain.Charge{Reason: "card declined"}
	}
	return domain.Charge{Reason: "unknown payment token"}
}

// Captures counts the distinct charges that took money.
func (g *Gateway) Captures() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.charges {
		if c.Captured {
			n++
		}
	}
	return n
}
