package mesh

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/shopmesh/shopmesh/mesh/observe"
)

// Admission refuses new work while the work already accepted could not
// finish in time. An order accepted behind a backlog that takes longer than
// its deadline to drain would only expire after its customer was told it
// was accepted; refusing it at once, with a time to come back, is honest.
//
// The backlog is what is open now; how fast it drains is measured from how
// many ended in the last seconds. New work is refused while
// open > rate × deadline / 2, or over Max when Max is set. Below Floor open
// items nothing is refused, so an idle shop, whose rate is still unknown,
// takes a burst.
type Admission struct {
	// Max, when above 0, is a fixed cap on open work instead.
	Max int
	// Floor is how much open work is always accepted.
	Floor int
	// Deadline is how long accepted work may take.
	Deadline time.Duration

	name    string
	backlog func() (open int, ended uint64, err error)
	metrics *observe.Metrics

	mu    sync.Mutex
	open  int
	rate  float64 // ended per second, smoothed
	ended uint64
	at    time.Time
}

// NewAdmission watches a backlog: backlog reports the work open now and a
// running count of the work ever ended. name labels the metrics.
func NewAdmission(name string, backlog func() (int, uint64, error), m *observe.Metrics) *Admission {
	return &Admission{Floor: 1000, Deadline: 15 * time.Minute, name: name, backlog: backlog, metrics: m}
}

// Run samples the backlog twice a second until ctx ends.
func (a *Admission) Run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		a.sample(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Admission) sample(now time.Time) {
	open, ended, err := a.backlog()
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.at.IsZero() && now.After(a.at) && ended >= a.ended {
		// An exponential average over about five seconds.
		recent := float64(ended-a.ended) / now.Sub(a.at).Seconds()
		weight := math.Min(1, now.Sub(a.at).Seconds()/5)
		a.rate += weight * (recent - a.rate)
	}
	a.open, a.ended, a.at = open, ended, now
	a.metrics.ObserveAdmission(a.name, open, a.limitLocked())
}

// Limit is how much open work is accepted now.
func (a *Admission) Limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limitLocked()
}

func (a *Admission) limitLocked() int {
	if a.Max > 0 {
		return a.Max
	}
	return max(a.Floor, int(a.rate*a.Deadline.Seconds()/2))
}

// Busy is a refusal: come back after RetryAfter.
type Busy struct {
	Open, Limit int
	Rate        float64
	RetryAfter  time.Duration
}

func (b *Busy) Error() string {
	return fmt.Sprintf("too busy: %d open, at most %d accepted, %.1f ending per second", b.Open, b.Limit, b.Rate)
}

// Admit returns a *Busy when new work must be refused. The count of open
// work is the last sample's, plus what was admitted since, so a burst
// between two samples cannot slip past the limit.
func (a *Admission) Admit() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := a.limitLocked()
	if a.open < limit {
		a.open++
		return nil
	}
	wait := time.Second
	if a.rate > 0 {
		wait = time.Duration(float64(a.open-limit+1) / a.rate * float64(time.Second))
	}
	a.metrics.ObserveRefused(a.name)
	return &Busy{Open: a.open, Limit: limit, Rate: a.rate, RetryAfter: min(max(wait, time.Second), time.Minute)}
}
