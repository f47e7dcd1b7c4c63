package mesh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats-server/v2/server"
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
const errDuplicateInProcess = jetstream.ErrorCode(server.JSStreamDuplicateMessageConflict)

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
// message when subject is empty), oldest first, until nothing is pending,
// and stops at fn's first error.
//
// It reads through an ordered consumer's message iterator rather than its
// Next: on a cluster the consumer may live on another server, and the
// server the client is on can answer the first pulls "no responders" until
// it has heard of the new consumer (servers since 2.10.26 say so at once
// instead of letting the pull time out). Next hands that error back; the
// iterator makes the consumer again and goes on from where it was.
//
// A consumer that delivers nothing for apiTry while messages are pending
// is given up for a new one, from the message after the last one read: on
// a cluster that has lost a server it may sit on a replica that will not
// deliver (seen under the race detector, a minute without a message), and
// the messages counted as pending may have been deleted since (a dead
// letter redriven while the letters are listed).
func ReadStream(ctx context.Context, js jetstream.JetStream, stream, subject string, fn func(jetstream.Msg) error) error {
	var after uint64 // the stream sequence of the last message read
	for {
		done, err := readFrom(ctx, js, stream, subject, &after, fn)
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("read %s: %w", stream, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readFrom reads with one ordered consumer from the message after *after,
// moving *after on. It is done once nothing is pending; it returns not done
// and no error when its consumer stalls, for the caller to try a new one.
func readFrom(ctx context.Context, js jetstream.JetStream, stream, subject string, after *uint64, fn func(jetstream.Msg) error) (bool, error) {
	cfg := jetstream.OrderedConsumerConfig{InactiveThreshold: 30 * time.Second}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	if *after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, *after+1
	}
	try, cancel := context.WithTimeout(ctx, apiTry)
	defer cancel()
	c, err := js.OrderedConsumer(try, stream, cfg)
	if err != nil {
		return false, stalled(ctx, err)
	}
	info, err := c.Info(try)
	if err != nil {
		return false, stalled(ctx, err)
	}
	if info.NumPending == 0 {
		return true, nil
	}
	msgs, err := c.Messages()
	if err != nil {
		return false, err
	}
	defer msgs.Stop()
	for {
		try, cancel := context.WithTimeout(ctx, apiTry)
		m, err := msgs.Next(jetstream.NextContext(try))
		cancel()
		if err != nil {
			return false, stalled(ctx, err)
		}
		if err := fn(m); err != nil {
			return false, err
		}
		meta, err := m.Metadata()
		if err != nil {
			return false, err
		}
		*after = meta.Sequence.Stream
		if meta.NumPending == 0 {
			return true, nil
		}
	}
}

// stalled is nil for an error that a new consumer may not meet (no answer
// in time, no responders, the consumer gone), and err otherwise, or once
// ctx has ended.
func stalled(ctx context.Context, err error) error {
	if ctx.Err() == nil && (unanswered(err) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound)) {
		return nil
	}
	return err
}
