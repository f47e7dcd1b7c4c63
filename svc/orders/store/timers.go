package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
)

// Timers schedules payment deadlines with JetStream message scheduling:
// the server itself publishes to the deadline subject when the time comes,
// so no process polls and a restart loses no timer.
type Timers struct {
	js jetstream.JetStream
}

// NewTimers schedules into the ORDERS stream through js.
func NewTimers(js jetstream.JetStream) *Timers { return &Timers{js: js} }

func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); s.Before(t) {
		return s.Add(time.Second)
	}
	return t
}

// Schedule implements app.Timers: the order's deadline fires at at.
// Scheduling the same order twice is deduplicated.
func (t *Timers) Schedule(ctx context.Context, orderID string, at time.Time) error {
	m := nats.NewMsg(events.TimerSubject(orderID))
	m.Data = fmt.Appendf(nil, `{"orderId":%q}`, orderID)
	// @at has whole seconds; round up so the timer never fires before the
	// deadline it stands for.
	m.Header.Set("Nats-Schedule", "@at "+ceilSecond(at).UTC().Format(time.RFC3339))
	m.Header.Set("Nats-Schedule-Target", events.DeadlineSubject(orderID))
	// The id names the order and the time: the same placement scheduled
	// again is a duplicate, another attempt's deadline is a timer of its own.
	m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("timer/%s/%d", orderID, ceilSecond(at).Unix()))
	if _, err := t.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("schedule deadline of %s: %w", orderID, err)
	}
	return nil
}
