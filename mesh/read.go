package mesh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats.go/jetstream"
)

// apiTry bounds one try of a JetStream request. A request in flight when
// its server goes (a publish to a stream leader that is lost, a stream
// info from a client whose server was shut down) never gets an answer, and
// the next try reaches a server that answers; without a bound the request
// would wait out its caller's whole deadline (30 s for a reaction) while
// JetStream answers again in a few seconds.
const apiTry = 2 * time.Second

// askingFor bounds untilAnswered when its caller set no deadline (an HTTP
// command runs on its request's context): as long as a reaction's handler
// may take.
const askingFor = 30 * time.Second

// untilAnswered calls ask, each try bounded by apiTry, and asks again while
// a try gets no answer, with a pause that grows from 50 ms to 1 s, until
// ctx ends (or askingFor has passed, if ctx has no deadline). It is for
// requests that are safe to repeat: reads, and publishes with a message id.
func untilAnswered[T any](ctx context.Context, ask func(context.Context) (T, error)) (T, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, askingFor)
		defer cancel()
	}
	for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		try, cancel := context.WithTimeout(ctx, apiTry)
		v, err := ask(try)
		cancel()
		if err == nil || ctx.Err() != nil || !unanswered(err) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(pause):
		}
	}
}

// errDuplicateInProcess is JetStream's answer to a publish whose message
// id an earlier try is still storing: that try's answer is lost, and the
// next try after it is stored is answered as a duplicate.
const errDuplicateInProcess jetstream.ErrorCode = 10158

// unanswered says a request got no answer that can be trusted: its answer
// was lost with a server, it was answered by a replica that knows of no
// leader, or an earlier try of it is still being stored. A publish to a
// stream that is electing its leader is not one: nothing listens on the
// stream's subjects then, the client says so at once (no responders), and
// the caller tries again later (a reaction's redelivery, a 503 with
// Retry-After).
func unanswered(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, errNoLeader) ||
		errors.As(err, &apiErr) && apiErr.ErrorCode == errDuplicateInProcess
}

// ReadStream calls fn with every message of stream on subject (every
// message when subject is empty), oldest first, up to the last one there
// when it started reading, and stops at fn's first error.
//
// It reads through an ordered consumer's message iterator rather than its
// Next: on a cluster the consumer may live on another server, and the
// server the client is on can answer the first pulls "no responders" until
// it has heard of the new consumer (servers since 2.10.26 say so at once
// instead of letting the pull time out). Next hands that error back; the
// iterator makes the consumer again and goes on from where it was.
func ReadStream(ctx context.Context, js jetstream.JetStream, stream, subject string, fn func(jetstream.Msg) error) error {
	cfg := jetstream.OrderedConsumerConfig{}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	c, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	if info.NumPending == 0 {
		return nil
	}
	msgs, err := c.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	defer msgs.Stop()
	for {
		m, err := nextOrDone(ctx, c, msgs)
		if err != nil || m == nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}

// nextOrDone is the consumer's next message, or nil once nothing is
// pending: the messages counted as pending when the last one came may
// have been deleted since (a dead letter redriven), and no message would
// ever come.
func nextOrDone(ctx context.Context, c jetstream.Consumer, msgs jetstream.MessagesContext) (jetstream.Msg, error) {
	for {
		try, cancel := context.WithTimeout(ctx, apiTry)
		m, err := msgs.Next(jetstream.NextContext(try))
		cancel()
		if err == nil {
			return m, nil
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("read %s: %w", c.CachedInfo().Stream, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", c.CachedInfo().Stream, err)
		}
		if info.NumPending == 0 {
			return nil, nil
		}
	}
}
