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
)

// Options inject slowness and failures.
type Options struct {
	Latency     time.Duration
	FailureRate float64
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
	case <-time.After(g.opts.Latency):
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.opts.FailureRate > 0 && rand.Float64() < g.opts.FailureRate {
		return domain.Charge{}, ErrUnavailable
	}
	if c, ok := g.charges[key]; ok {
		return c, nil
	}
	c := answer(token)
	g.charges[key] = c
	return c, nil
}

func answer(token string) domain.Charge {
	switch token {
	case TokenVisa:
		return domain.Charge{Captured: true}
	case TokenDeclined:
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
