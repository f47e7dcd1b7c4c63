package mesh

import (
	"errors"
	"testing"
	"time"
)

func TestAdmissionFollowsWhatEndsInTime(t *testing.T) {
	t.Parallel()
	var open int
	var ended uint64
	a := NewAdmission("test", func() (int, uint64, error) { return open, ended, nil }, nil)
	a.Floor, a.Deadline = 10, 20*time.Second
	start := time.Now()

	a.sample(start) // nothing known yet: the floor
	if got := a.Limit(); got != 10 {
		t.Fatalf("limit before any rate = %d, want the floor", got)
	}
	// 50 orders end per second for 30 s: 50 × 20 s / 2 = 500.
	for i := 1; i <= 60; i++ {
		ended += 25
		a.sample(start.Add(time.Duration(i) * 500 * time.Millisecond))
	}
	if got := a.Limit(); got < 450 || got > 510 {
		t.Fatalf("limit at 50 ended/s with a 20 s deadline = %d, want about 500", got)
	}
	open, ended = a.Limit()-1, ended+25
	a.sample(start.Add(30500 * time.Millisecond))
	if err := a.Admit(); err != nil {
		t.Fatalf("refused below the limit: %v", err)
	}
	var busy *Busy
	if err := a.Admit(); !errors.As(err, &busy) || busy.RetryAfter < time.Second {
		t.Fatalf("admitted over the limit: %v", err)
	}
	a.Max = 1000 // a fixed cap wins
	if err := a.Admit(); err != nil {
		t.Fatalf("refused under a fixed cap of 1000: %v", err)
	}
}
