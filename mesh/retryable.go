package mesh

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Retryable says err is JetStream not answering now (a write conflict
// that kept losing; a server down, a stream electing its leader, a store
// full or too slow): nothing was decided, and the same request may be sent
// again. A request given up on while JetStream was away (its context
// canceled) is one too.
func Retryable(err error) bool {
	for _, transient := range []error{
		ErrConflict, ErrWrite, context.DeadlineExceeded, context.Canceled,
		nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionReconnecting, jetstream.ErrNoStreamResponse,
	} {
		if errors.Is(err, transient) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable
}
