//go:build cluster

package deploy

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"
)

// load places orders through the load balancer at a steady pace for as
// long as it runs, and records every order the API acknowledged (202), so
// that the checks can find each one again. A request that gets no answer
// or a 5xx is retried with the same Idempotency-Key for up to 20s; one
// that never gets through is not counted as acknowledged.
type load struct {
	shop     *shop
	products []string
	// gate is held for reading by each order placed, and for writing while
	// the checks run, so they see a shop at rest.
	gate  sync.RWMutex
	stop  chan struct{}
	ended sync.Once
	wg    sync.WaitGroup

	mu       sync.Mutex
	next     int
	acked    map[string]time.Time
	ackTimes []time.Time
	failures map[string]int
	cancels  int
}

// startLoad starts workers that together place about perSecond orders a second.
func startLoad(s *shop, products []string, workers, perSecond int) *load {
	l := &load{shop: s, products: products, stop: make(chan struct{}),
		acked: map[string]time.Time{}, failures: map[string]int{}}
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	for w := range workers {
		l.wg.Add(1)
		go l.work(w, tick.C)
	}
	go func() { <-l.stop; tick.Stop() }()
	return l
}

func (l *load) work(worker int, tick <-chan time.Time) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(worker), uint64(time.Now().UnixNano())))
	var mine []string
	for {
		select {
		case <-l.stop:
			return
		case <-tick:
		}
		l.gate.RLock()
		if id := l.place(worker, rng); id != "" {
			mine = append(mine, id)
		}
		// Now and then an order placed a little earlier is cancelled:
		// pending ones release their stock, confirmed ones are refunded.
		if len(mine) > 10 && rng.IntN(12) == 0 {
			l.cancel(mine[len(mine)-10])
		}
		l.gate.RUnlock()
	}
}

// place places one order and returns its id once acknowledged.
func (l *load) place(worker int, rng *rand.Rand) string {
	l.mu.Lock()
	l.next++
	key := fmt.Sprintf("chaos-%d-%d", time.Now().UnixNano(), l.next)
	l.mu.Unlock()
	body := map[string]any{"customerId": fmt.Sprintf("customer-%d", worker), "items": l.lines(rng), "paymentToken": "tok_visa"}
	if rng.IntN(10) == 0 {
		body["paymentToken"] = "tok_chargeDeclined"
	}
	headers := map[string]string{"Idempotency-Key": key}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var o order
		status, err := l.shop.call(http.MethodPost, "/orders", body, headers, &o)
		if err == nil {
			l.ack(o.ID)
			return o.ID
		}
		l.fail(status)
		if (status != 0 && status < 500) || time.Now().After(deadline) {
			return ""
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// lines orders one or two products, one to three of each.
func (l *load) lines(rng *rand.Rand) []line {
	first := rng.IntN(len(l.products))
	lines := []line{{ProductID: l.products[first], Quantity: int64(1 + rng.IntN(3))}}
	if second := rng.IntN(len(l.products)); second != first && rng.IntN(3) == 0 {
		lines = append(lines, line{ProductID: l.products[second], Quantity: int64(1 + rng.IntN(3))})
	}
	return lines
}

func (l *load) cancel(id string) {
	for range 10 {
		status, _ := l.shop.call(http.MethodPost, "/orders/"+id+"/cancel", nil, nil, nil)
		if status != 0 && status < 500 {
			l.mu.Lock()
			l.cancels++
			l.mu.Unlock()
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (l *load) ack(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[id] = time.Now()
	l.ackTimes = append(l.ackTimes, time.Now())
}

// fail counts an attempt that was not acknowledged, by its status.
func (l *load) fail(status int) {
	reason := "no answer"
	if status != 0 {
		reason = fmt.Sprintf("HTTP %d", status)
	}
	l.mu.Lock()
	l.failures[reason]++
	l.mu.Unlock()
}

// pause waits for the orders being placed and holds new ones until resume.
func (l *load) pause()  { l.gate.Lock() }
func (l *load) resume() { l.gate.Unlock() }

// end stops the workers and waits for them; it may be called again.
func (l *load) end() {
	l.ended.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// ackedIDs is a copy of every acknowledged order's id.
func (l *load) ackedIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.acked))
	for id := range l.acked {
		ids = append(ids, id)
	}
	return ids
}

// window is what the load saw between two moments: acknowledged orders a
// second, and the longest stretch with none.
type window struct {
	rate float64
	gap  time.Duration
}

func (l *load) window(from, to time.Time) window {
	l.mu.Lock()
	defer l.mu.Unlock()
	var in []time.Time
	for _, at := range l.ackTimes {
		if !at.Before(from) && !at.After(to) {
			in = append(in, at)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].Before(in[j]) })
	last, gap := from, time.Duration(0)
	for _, at := range append(in, to) {
		gap = max(gap, at.Sub(last))
		last = at
	}
	return window{rate: float64(len(in)) / to.Sub(from).Seconds(), gap: gap}
}

func (l *load) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d orders acknowledged, %d cancels sent, attempts not acknowledged: %v", len(l.acked), l.cancels, l.failures)
}
