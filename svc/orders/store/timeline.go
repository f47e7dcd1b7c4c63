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
}

// NewTimeline reads from js.
func NewTimeline(js jetstream.JetStream) *Timeline { return &Timeline{js: js} }

// For returns the order's events in time order. products are the order's
// products, whose stock events mention it.
func (t *Timeline) For(ctx context.Context, o View) ([]Entry, error) {
	type read struct{ stream, filter string }
	reads := []read{
		{events.OrdersStream, events.OrderFilter(o.ID)},
		{events.InventoryStream, events.ReservationFilter(o.ID)},
		{events.PaymentsStream, events.PaymentFilter(o.ID)},
	}
	for _, it := range o.Items {
		reads = append(reads, read{events.InventoryStream, events.StockFilter(it.ProductID)})
	}
	var out []Entry
	for _, r := range reads {
		// One filter per consumer: nats-server 2.15.2 skips the first
		// message an ordered consumer with several filters and a start
		// time should deliver.
		entries, err := t.read(ctx, r.stream, r.filter, o)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func (t *Timeline) read(ctx context.Context, stream, filter string, o View) ([]Entry, error) {
	c, err := t.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   ptr(o.CreatedAt.Add(-time.Second)),
	})
	if err != nil {
		return nil, fmt.Errorf("timeline %s: %w", stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("timeline %s: %w", stream, err)
	}
	var out []Entry
	for range info.NumPending {
		m, err := c.Next(jetstream.FetchContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("timeline %s: %w", stream, err)
		}
		if e, ok := entry(m, o.ID); ok {
			out = append(out, e)
		}
	}
	return out, nil
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

func ptr[T any](v T) *T { return &v }
