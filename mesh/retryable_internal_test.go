package mesh

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A write JetStream did not take now is retryable (a 503 with Retry-After
// at the HTTP edge), so that clients try again; any other error is not.
func TestStoreFailuresAreRetryable(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		fmt.Errorf("place: %w", ErrWrite), ErrConflict, context.DeadlineExceeded,
		fmt.Errorf("catch up ORDERS: %w", context.Canceled), nats.ErrNoResponders, jetstream.ErrNoStreamResponse,
		&jetstream.APIError{Code: http.StatusServiceUnavailable, Description: "JetStream system temporarily unavailable"},
	} {
		if !Retryable(err) {
			t.Errorf("%v is not retryable", err)
		}
	}
	for _, err := range []error{errors.New("no such order"), &jetstream.APIError{Code: http.StatusBadRequest}} {
		if Retryable(err) {
			t.Errorf("%v is retryable", err)
		}
	}
}
