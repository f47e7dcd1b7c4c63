package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/subject"
	"github.com/shopmesh/shopmesh/svc/orders/app"
	bolt "go.etcd.io/bbolt"
)

// bucketTimeline indexes every event of the saga by the order it concerns:
// order id, 0, stream, 0, then the stream sequence.
var bucketTimeline = []byte("timeline")

// timelineVersion changes whenever the index changes; an index of another
// version is rebuilt from the streams at start.
const timelineVersion = 1

// TimelineStreams are the streams the timeline follows: every service's,
// so a service added to the mesh has its events about orders shown too.
func TimelineStreams() []string {
	var names []string
	for _, s := range events.Streams {
		names = append(names, s.Name)
	}
	return names
}

// TimelineIndex is the timeline's index, in a bbolt file of its own: it
// follows every stream, and keeping it apart keeps that work off the
// path of the orders' own decisions, which wait for their projection.
type TimelineIndex struct {
	db *bolt.DB
}

// NewTimelineIndex prepares the index in db.
func NewTimelineIndex(db *bolt.DB) (*TimelineIndex, error) {
	if err := mesh.PrepareState(db, timelineVersion, bucketTimeline); err != nil {
		return nil, fmt.Errorf("timeline index: %w", err)
	}
	return &TimelineIndex{db: db}, nil
}

// Apply implements mesh.Projector: it reads no more of an event than the
// order it names.
func (x *TimelineIndex) Apply(tx *bolt.Tx, e mesh.Envelope) ([]mesh.View, error) {
	if e.Type == "" {
		return nil, nil // not an event: a fired timer, or a stranger
	}
	return nil, indexEvent(tx, e)
}

// indexEvent notes e under the order it concerns, if any. Every event of
// the saga names its order in its body, whatever its service: the holds on
// a product's stock as much as the order's own events.
func indexEvent(tx *bolt.Tx, e mesh.Envelope) error {
	var body struct {
		OrderID string `json:"orderId"`
	}
	if json.Unmarshal(e.Data, &body) != nil || body.OrderID == "" {
		return nil
	}
	key := append(timelinePrefix(body.OrderID), e.Stream...)
	key = binary.BigEndian.AppendUint64(append(key, 0), e.Sequence)
	return tx.Bucket(bucketTimeline).Put(key, nil)
}

func timelinePrefix(orderID string) []byte { return append([]byte(orderID), 0) }

// eventRef names one message of one stream.
type eventRef struct {
	stream string
	seq    uint64
}

// refs are the messages indexed under orderID.
func (x *TimelineIndex) refs(orderID string) ([]eventRef, error) {
	var refs []eventRef
	prefix := timelinePrefix(orderID)
	err := x.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTimeline).Cursor()
		for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
			rest := k[len(prefix):]
			if len(rest) < 9 {
				continue
			}
			refs = append(refs, eventRef{stream: string(rest[:len(rest)-9]), seq: binary.BigEndian.Uint64(rest[len(rest)-8:])})
		}
		return nil
	})
	return refs, err
}

// Timeline serves every event of every service that concerns an order, the
// choreography made visible. It reads the order's index and fetches each
// event by its sequence: the cost is the order's own events, however busy
// its products are.
type Timeline struct {
	events  *mesh.EventReader // an old order's events are in the archives
	index   *TimelineIndex
	catchUp func(context.Context) error
}

// NewTimeline reads index, once catchUp has brought it up to everything
// stored (the index commits in batches, a moment behind its streams), and
// the events from js.
func NewTimeline(js jetstream.JetStream, index *TimelineIndex, catchUp func(context.Context) error) *Timeline {
	return &Timeline{events: mesh.NewEventReader(js), index: index, catchUp: catchUp}
}

// For implements app.Timeline: the order's events in time order.
func (t *Timeline) For(ctx context.Context, orderID string) ([]app.Entry, error) {
	if err := t.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("timeline index: %w", err)
	}
	refs, err := t.index.refs(orderID)
	if err != nil {
		return nil, err
	}
	entries := make([]app.Entry, 0, len(refs))
	for _, r := range refs {
		m, err := t.events.Get(ctx, r.stream, r.seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed by an operator since
		}
		if err != nil {
			return nil, fmt.Errorf("timeline %s seq %d: %w", r.stream, r.seq, err)
		}
		entries = append(entries, entry(m, r))
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time.Before(entries[j].Time) })
	return entries, nil
}

func entry(m *jetstream.RawStreamMsg, r eventRef) app.Entry {
	at, err := time.Parse(time.RFC3339Nano, m.Header.Get(mesh.HeaderTime))
	if err != nil {
		at = m.Time
	}
	return app.Entry{
		Time: at, Service: subject.Service(m.Subject), Type: m.Header.Get(mesh.HeaderType),
		Subject: m.Subject, Stream: r.stream, Sequence: r.seq, Data: m.Data,
		ID: m.Header.Get(mesh.HeaderID), CausationID: m.Header.Get(mesh.HeaderCausationID),
		TraceID: traceID(m.Header.Get(mesh.HeaderTraceParent)),
	}
}

// traceID is the trace id of a W3C traceparent (version-trace-span-flags),
// or "" when there is none.
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}
