//go:build soak

package main

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestSoak is a long chaos run, kept out of CI (go test -tags soak, or
// task soak): orders over several products from many customers, a flaky
// and slow gateway, every event delivered twice, customers cancelling at
// random, and the whole process restarted several times mid-run. The
// invariants must hold at the end.
func TestSoak(t *testing.T) {
	cfg := sagaConfig(t)
	cfg.GatewayFailureRate, cfg.GatewayLatency = 0.2, 5*time.Millisecond
	cfg.OrderTTL = 20 * time.Second
	m := openMall(t, cfg, deliverTwice)
	initial := map[string]int64{}
	var products []string
	for i := range 6 {
		id := m.product(fmt.Sprintf("SOAK-%d", i), int64(100+i), 150)
		initial[id], products = 150, append(products, id)
	}
	var ids []string
	rng := rand.New(rand.NewPCG(7, 7))
	const rounds, perRound = 4, 250
	for round := range rounds {
		ids = append(ids, m.soakRound(rng, products, round, perRound)...)
		m.restart(cfg)
	}
	for _, id := range ids {
		m.awaitTerminal(id)
	}
	m.checkInvariants(initial)
	t.Logf("%d orders over %d restarts", len(ids), rounds)
}

func (m *mall) soakRound(rng *rand.Rand, products []string, round, n int) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		a, b := products[rng.IntN(len(products))], products[rng.IntN(len(products))]
		lines := []line{{a, int64(1 + rng.IntN(3))}}
		if b != a {
			lines = append(lines, line{b, 1})
		}
		token, cancel := "tok_visa", rng.IntN(10) == 0
		if rng.IntN(8) == 0 {
			token = "tok_chargeDeclined"
		}
		wg.Go(func() {
			ids[i] = m.place(fmt.Sprintf("soak-%d-%d", round, i), token, lines...)
			if cancel {
				m.http.Do("POST", "/orders/"+ids[i]+"/cancel", nil, nil)
			}
		})
	}
	wg.Wait()
	return ids
}
