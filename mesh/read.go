package mesh

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

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
		m, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
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
