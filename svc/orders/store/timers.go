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
//
// A timer is not history: its message, and the deadline it fires, stay in
// the stream for Retention after the deadline and are then removed by the
// server (per-message TTL), so that the subjects of timers count the orders
// of the last day, not every order ever placed (ADR 21).
type Timers struct {
	js jetstream.JetStream
	// Retention is how long a timer and its deadline are kept after the
	// deadline: longer than any stop of the server or of the orders service
	// that the shop should survive with its orders still expiring.
	Retention time.Duration
}

// TimerRetention is the Retention of NewTimers.
const TimerRetention = 24 * time.Hour

// NewTimers schedules into the ORDERS stream through js.
func NewTimers(js jetstream.JetStream) *Timers { return &Timers{js: js, Retention: TimerRetention} }

func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); s.Before(t) {
		return s.Add(time.Second)
	}
	return t
}

// Schedule implements app.Timers: the order's deadline fires at at.
// Scheduling the same order twice is deduplicated.
func (t *Timers) Schedule(ctx context.Context, orderID string, at time.Time) error {
	// @at has whole seconds; round up so the timer never fires before the
	// deadline it stands for.
	at = ceilSecond(at)
	m := nats.NewMsg(events.TimerSubject(orderID))
	m.Data = fmt.Appendf(nil, `{"orderId":%q}`, orderID)
	_, err := t.js.PublishMsg(ctx, m,
		jetstream.WithScheduleAt(at),
		jetstream.WithScheduleTarget(events.DeadlineSubject(orderID)),
		jetstream.WithScheduleTTL(t.Retention),
		jetstream.WithMsgTTL(t.keep(at, time.Now())),
		// The id names the order and the time: the same placement scheduled
		// again is a duplicate, another attempt's deadline is a timer of
		// its own.
		jetstream.WithMsgID(fmt.Sprintf("timer/%s/%d", orderID, at.Unix())),
	)
	if err != nil {
		return fmt.Errorf("schedule deadline of %s: %w", orderID, err)
	}
	return nil
}

// Cancel implements app.Timers: the deadline of an order that has ended
// will not fire. A message on the timer's subject without a schedule
// removes the schedule at once (nats-server keeps a schedule per subject);
// it is published without waiting for an answer, since a cancel that is
// lost only lets the deadline fire and find the order ended.
func (t *Timers) Cancel(_ context.Context, orderID string, at time.Time) error {
	m := nats.NewMsg(events.TimerSubject(orderID))
	m.Header.Set(jetstream.MsgTTLHeader, t.keep(ceilSecond(at), time.Now()).String())
	if err := t.js.Conn().PublishMsg(m); err != nil {
		return fmt.Errorf("cancel deadline of %s: %w", orderID, err)
	}
	return nil
}

// keep is how long a message about the deadline at is kept from now: a
// second at least, for a deadline more than Retention past (an order
// expired after a long stop), which a TTL of zero or less would keep for
// good or have refused.
func (t *Timers) keep(at, now time.Time) time.Duration {
	return max(at.Sub(now).Truncate(time.Second)+t.Retention, time.Second)
}
