package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// A cancelled deadline never fires; one left alone fires at its time.
// Both timers are due in the same second, so once the one left alone has
// fired, the server has passed the cancelled one's time too.
func TestACancelledDeadlineDoesNotFire(t *testing.T) {
	t.Parallel()
	ctx, js, orders := timersOnNewServer(t)
	deadlines := scheduleTwoCancelOne(ctx, t, NewTimers(js), orders, "kept", "cancelled")
	m, err := deadlines.Next(jetstream.FetchMaxWait(20 * time.Second))
	if err != nil {
		t.Fatalf("the deadline left alone did not fire: %v", err)
	}
	if m.Subject() != events.DeadlineSubject("kept") {
		t.Fatalf("fired %s; want only the deadline of the order left alone", m.Subject())
	}
	if _, err := orders.GetLastMsgForSubject(ctx, events.DeadlineSubject("cancelled")); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the cancelled deadline: %v; want it never fired", err)
	}
}

// A timer is not history: its message, the cancel and the deadline it
// fired are removed by the server once Retention has passed after the
// deadline, and their subjects with them.
func TestTimersLeaveNothingBehindAfterTheirRetention(t *testing.T) {
	t.Parallel()
	ctx, js, orders := timersOnNewServer(t)
	timers := NewTimers(js)
	timers.Retention = time.Second
	deadlines := scheduleTwoCancelOne(ctx, t, timers, orders, "fires", "cancelled")
	if _, err := deadlines.Next(jetstream.FetchMaxWait(20 * time.Second)); err != nil {
		t.Fatalf("the deadline did not fire: %v", err)
	}
	meshtest.Eventually(t, 20*time.Second, func() error {
		info, err := orders.Info(ctx, jetstream.WithSubjectFilter("orders.>"))
		if err != nil {
			return err
		}
		if n := len(info.State.Subjects); n != 0 {
			return fmt.Errorf("the stream still holds %d subjects of timers: %v", n, info.State.Subjects)
		}
		return nil
	})
}

// scheduleTwoCancelOne schedules the deadlines of two orders for the same
// second, two seconds ahead (the cancel is stored well before), cancels the
// second's, and follows the deadlines that fire.
func scheduleTwoCancelOne(ctx context.Context, t *testing.T, timers *Timers, orders jetstream.Stream, kept, cancelled string) jetstream.Consumer {
	t.Helper()
	at := time.Now().Add(2 * time.Second)
	for _, id := range []string{kept, cancelled} {
		if err := timers.Schedule(ctx, id, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := timers.Cancel(ctx, cancelled, at); err != nil {
		t.Fatal(err)
	}
	c, err := orders.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"orders.deadline.>"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func timersOnNewServer(t *testing.T) (context.Context, jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	js := meshtest.JetStream(t, meshtest.Server(t))
	ctx := meshtest.Context(t)
	if err := mesh.ProvisionStream(ctx, js, mesh.Storage{}, mesh.StreamSpec(events.OrdersStreamSpec)); err != nil {
		t.Fatal(err)
	}
	orders, err := js.Stream(ctx, events.OrdersStream)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, js, orders
}

func TestTimersAreKeptADayAfterTheirDeadlineAndNeverForGood(t *testing.T) {
	t.Parallel()
	timers := &Timers{Retention: 24 * time.Hour}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		at   time.Time
		want time.Duration
	}{
		"due in an hour":        {at: now.Add(time.Hour), want: 25 * time.Hour},
		"due an hour ago":       {at: now.Add(-time.Hour), want: 23 * time.Hour},
		"due exactly a day ago": {at: now.Add(-24 * time.Hour), want: time.Second},
		"due two days ago":      {at: now.Add(-48 * time.Hour), want: time.Second},
	}
	for name, tt := range tests {
		if got := timers.keep(tt.at, now); got != tt.want {
			t.Errorf("%s: kept %v, want %v", name, got, tt.want)
		}
	}
}
