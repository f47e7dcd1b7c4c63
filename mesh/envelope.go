package mesh

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// CloudEvents NATS binding headers (binary mode) plus the two extensions the
// mesh uses to follow a saga: correlation (the order or request that started
// it all) and causation (the event that caused this one).
const (
	HeaderSpecVersion   = "ce-specversion"
	HeaderID            = "ce-id"
	HeaderSource        = "ce-source"
	HeaderType          = "ce-type"
	HeaderTime          = "ce-time"
	HeaderSubject       = "ce-subject"
	HeaderContentType   = "content-type"
	HeaderCorrelationID = "ce-correlationid"
	HeaderCausationID   = "ce-causationid"
	HeaderTraceParent   = "traceparent"
)

// Event is a fact a service wants to record. The events package implements it
// for every contract, so the runtime never needs to know what a shop is.
type Event interface {
	// EventSubject is the four-token subject <service>.<entity>.<id>.<event>.
	EventSubject() string
	// EventType is the versioned CloudEvents type, e.g. shopmesh.orders.order.placed.v1.
	EventType() string
}

// Unscheduler is an event that ends what a scheduled message waits for (an
// order that ends, for its payment deadline). It is stored with
// Nats-Schedule-Next: purge and Nats-Scheduler naming the schedule's
// subject, and the server removes the schedule, message and subject, in the
// same write: nothing is left to fire, and no message more is written (ADR
// 21). The stream must allow schedules, which lets it purge.
type Unscheduler interface {
	// Unschedules is the subject of the schedule the event ends.
	Unschedules() string
}

// Envelope is an event as read back from a stream: its body and metadata.
type Envelope struct {
	ID            string
	Source        string
	Type          string
	Subject       string
	Time          time.Time
	CorrelationID string
	CausationID   string
	TraceParent   string
	Data          json.RawMessage
	Stream        string
	Sequence      uint64
	// Delivered counts deliveries of this message to a reaction (1 on the first).
	Delivered uint64
	// Stored is when the stream stored it, by the server's clock.
	Stored time.Time
}

// Decode unmarshals the body into v.
func (e Envelope) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// Cause is what a new event inherits from the request or event that caused it.
type Cause struct {
	// ID identifies the command: an Idempotency-Key or the id of the causing
	// event. The same ID always yields the same message ids, so JetStream
	// drops a retried publish as a duplicate.
	ID            string
	CorrelationID string
	TraceParent   string
	// byEvent marks a command that reacts to an event: nobody waits to read
	// what it writes, so the writer does not wait for the read model.
	byEvent bool
}

// CorrelatedWith returns the cause with id as its correlation id if it has
// none: a command about one order follows that order's saga.
func (c Cause) CorrelatedWith(id string) Cause {
	if c.CorrelationID == "" {
		c.CorrelationID = id
	}
	return c
}

// CausedBy returns the cause to use for events decided in reaction to e.
func CausedBy(e Envelope) Cause {
	return Cause{ID: e.ID, CorrelationID: e.CorrelationID, TraceParent: e.TraceParent, byEvent: true}
}

func fromJetStream(m jetstream.Msg) (Envelope, error) {
	meta, err := m.Metadata()
	if err != nil {
		return Envelope{}, fmt.Errorf("message metadata: %w", err)
	}
	env := fromHeader(m.Subject(), m.Headers(), m.Data())
	env.Stream = meta.Stream
	env.Sequence = meta.Sequence.Stream
	env.Delivered = meta.NumDelivered
	env.Stored = meta.Timestamp
	return env, nil
}

func fromHeader(subject string, h nats.Header, data []byte) Envelope {
	t, _ := time.Parse(time.RFC3339Nano, h.Get(HeaderTime))
	return Envelope{
		ID:            h.Get(HeaderID),
		Source:        h.Get(HeaderSource),
		Type:          h.Get(HeaderType),
		Subject:       subject,
		Time:          t,
		CorrelationID: h.Get(HeaderCorrelationID),
		CausationID:   h.Get(HeaderCausationID),
		TraceParent:   h.Get(HeaderTraceParent),
		Data:          data,
	}
}

// newMsg builds the NATS message for one event with the full envelope.
func newMsg(source string, cause Cause, id string, e Event) (*nats.Msg, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	correlation := cause.CorrelationID
	if correlation == "" {
		correlation = cause.ID
	}
	m := nats.NewMsg(e.EventSubject())
	m.Data = data
	m.Header.Set(HeaderSpecVersion, "1.0")
	m.Header.Set(HeaderID, id)
	m.Header.Set(nats.MsgIdHdr, id)
	m.Header.Set(HeaderSource, source)
	m.Header.Set(HeaderType, e.EventType())
	m.Header.Set(HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	m.Header.Set(HeaderSubject, e.EventSubject())
	m.Header.Set(HeaderContentType, "application/json")
	m.Header.Set(HeaderCorrelationID, correlation)
	m.Header.Set(HeaderCausationID, cause.ID)
	if cause.TraceParent != "" {
		m.Header.Set(HeaderTraceParent, cause.TraceParent)
	}
	if u, ok := e.(Unscheduler); ok {
		m.Header.Set(jetstream.ScheduleNextHeader, "purge")
		m.Header.Set(jetstream.SchedulerHeader, u.Unschedules())
	}
	return m, nil
}
