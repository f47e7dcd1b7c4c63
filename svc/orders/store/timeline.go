package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/orders/domain"
)

// Entry is one event of the timeline of an order.
type Entry struct {
	Time     time.Time       `json:"time"`
	Service  string          `json:"service"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Stream   string          `json:"stream"`
	Sequence uint64          `json:"sequence"`
	Data     json.RawMessage `json:"data"`
}

// Timeline reads, straight from the streams, every event of every service
// that concerns an order: the choreography made visible.
type Timeline struct {
	js jetstream.JetStream
	// maxScan bounds the stock events read for one product of one order:
	// a hot product has many, and the timeline must stay cheap to serve.
	maxScan uint64
}

// NewTimeline reads from js.
func NewTimeline(js jetstream.JetStream) *Timeline { return &Timeline{js: js, maxScan: 20_000} }

// History is an order's timeline. Partial says that a product's stock
// events were too many to read them all within the order's lifetime: some
// of the order's holds may be missing.
type History struct {
	Entries []Entry
	Partial bool
}

// For returns the order's events in time order. Its own subjects are read
// whole (they are few); its products' stock events are read only within
// the order's lifetime, and at most maxScan of each.
func (t *Timeline) For(ctx context.Context, o View) (History, error) {
	type read struct{ stream, filter string }
	reads := []read{
		{events.OrdersStream, events.OrderFilter(o.ID)},
		{events.InventoryStream, events.ReservationFilter(o.ID)},
		{events.PaymentsStream, events.PaymentFilter(o.ID)},
	}
	for _, it := range o.Items {
		reads = append(reads, read{events.InventoryStream, events.StockFilter(it.ProductID)})
	}
	var h History
	for _, r := range reads {
		// One filter per consumer: nats-server 2.15.2 skips the first
		// message an ordered consumer with several filters and a start
		// time should deliver.
		entries, partial, err := t.read(ctx, r.stream, r.filter, o)
		if err != nil {
			return History{}, err
		}
		h.Entries, h.Partial = append(h.Entries, entries...), h.Partial || partial
	}
	sort.SliceStable(h.Entries, func(i, j int) bool { return h.Entries[i].Time.Before(h.Entries[j].Time) })
	return h, nil
}

// lifetime is when an order's events can be stored: from its placement to
// a minute after it ended (its compensations follow it), or until now.
func lifetime(o View) (from, to time.Time) {
	from, to = o.CreatedAt.Add(-time.Second), time.Now()
	ended := domain.Order{Status: o.Status}.Terminal()
	if end := o.UpdatedAt.Add(time.Minute); ended && end.Before(to) {
		to = end
	}
	return from, to
}

func (t *Timeline) read(ctx context.Context, stream, filter string, o View) (_ []Entry, partial bool, _ error) {
	from, to := lifetime(o)
	c, err := t.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	})
	if err != nil {
		return nil, false, fmt.Errorf("timeline %s: %w", stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("timeline %s: %w", stream, err)
	}
	var out []Entry
	for n := range info.NumPending {
		if n == t.maxScan {
			return out, true, nil
		}
		m, err := c.Next(jetstream.FetchContext(ctx))
		if err != nil {
			return nil, false, fmt.Errorf("timeline %s: %w", stream, err)
		}
		if meta, err := m.Metadata(); err == nil && meta.Timestamp.After(to) {
			break // stored after the order's lifetime: none of its own
		}
		if e, ok := entry(m, o.ID); ok {
			out = append(out, e)
		}
	}
	return out, false, nil
}

func entry(m jetstream.Msg, orderID string) (Entry, bool) {
	meta, err := m.Metadata()
	if err != nil {
		return Entry{}, false
	}
	if strings.HasPrefix(m.Subject(), "inventory.stock.") {
		var body struct {
			OrderID string `json:"orderId"`
		}
		if json.Unmarshal(m.Data(), &body) != nil || body.OrderID != orderID {
			return Entry{}, false
		}
	}
	at, _ := time.Parse(time.RFC3339Nano, m.Headers().Get(mesh.HeaderTime))
	return Entry{
		Time: at, Service: strings.SplitN(m.Subject(), ".", 2)[0], Type: m.Headers().Get(mesh.HeaderType),
		Subject: m.Subject(), Stream: meta.Stream, Sequence: meta.Sequence.Stream, Data: m.Data(),
	}, true
}
