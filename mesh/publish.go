package mesh

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// ErrConflict means another writer got there first: the expected last
// sequence did not match. Catch up and decide again.
var ErrConflict = errors.New("concurrent write conflict")

// Expect is an optimistic-concurrency expectation checked by JetStream
// itself: the last message on subjects matching Filter has sequence Seq
// (0: there is none yet).
type Expect struct {
	Filter string
	Seq    uint64
}

// Outgoing is one event to publish and the expectation guarding it.
type Outgoing struct {
	Event  Event
	Expect *Expect
}

// Publisher writes events with the envelope into the service's own stream.
type Publisher struct {
	js      jetstream.JetStream
	source  string
	metrics *Metrics
}

// NewPublisher returns a publisher that stamps source (e.g. "shopmesh/orders")
// on every event. metrics may be nil.
func NewPublisher(js jetstream.JetStream, source string, metrics *Metrics) *Publisher {
	return &Publisher{js: js, source: source, metrics: metrics}
}

// Publish writes the events in one atomic step: a single message with
// PublishMsg, several as a JetStream atomic batch. It returns the stream
// sequence of the last event. A replayed cause is deduplicated by JetStream
// and reports the sequence originally stored.
func (p *Publisher) Publish(ctx context.Context, cause Cause, out ...Outgoing) (uint64, error) {
	msgs, err := p.messages(cause, out)
	if err != nil {
		return 0, err
	}
	if len(msgs) == 1 {
		ack, err := p.js.PublishMsg(ctx, msgs[0])
		if err != nil {
			return 0, publishError(err)
		}
		if !ack.Duplicate {
			p.metrics.observePublish(out)
		}
		return ack.Sequence, nil
	}
	ack, err := jetstreamext.PublishMsgBatch(ctx, p.js, msgs)
	if err != nil {
		return 0, publishError(err)
	}
	p.metrics.observePublish(out)
	return ack.Sequence, nil
}

func (p *Publisher) messages(cause Cause, out []Outgoing) ([]*nats.Msg, error) {
	if len(out) == 0 {
		return nil, errors.New("publish: no events")
	}
	msgs := make([]*nats.Msg, 0, len(out))
	for i, o := range out {
		m, err := newMsg(p.source, cause, i, o.Event)
		if err != nil {
			return nil, err
		}
		if o.Expect != nil {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(o.Expect.Seq, 10))
			m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, o.Expect.Filter)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// ErrAlreadyStored is how JetStream answers an atomic batch it has already
// stored: the command was applied before, which is success for a retry, but
// the batch's sequence is not known. Writer treats it as success.
var ErrAlreadyStored = errors.New("batch already stored")

func publishError(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return fmt.Errorf("%w: %s", ErrConflict, apiErr.Description)
		case 10201: // atomic publish contains duplicate message
			return ErrAlreadyStored
		}
	}
	return fmt.Errorf("publish: %w", err)
}

// Guard turns decided events into outgoing messages, each expecting that
// its entity (the subject's first three tokens) is still at the sequence the
// decision saw: seen returns that sequence for an entity filter such as
// "inventory.stock.p1.*". Only an entity's first event in a batch carries
// the expectation; the later ones follow it within the same atomic write.
func Guard[E Event](evs []E, seen func(filter string) uint64) []Outgoing {
	out := make([]Outgoing, 0, len(evs))
	guarded := make(map[string]bool, len(evs))
	for _, e := range evs {
		o := Outgoing{Event: e}
		filter := entityOf(e.EventSubject()) + ".*"
		if !guarded[filter] {
			guarded[filter] = true
			o.Expect = &Expect{Filter: filter, Seq: seen(filter)}
		}
		out = append(out, o)
	}
	return out
}
