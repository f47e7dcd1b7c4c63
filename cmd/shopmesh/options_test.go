package main

import (
	"time"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// quickRetries redelivers a failed event within a quarter second, so that
// a saga test waits on its shop, not on backoff.
func quickRetries(t *tuning) {
	t.reactions = mesh.ReactionOptions{
		Backoff: []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond},
		AckWait: time.Second,
	}
}

// deliverTwice hands every event to its reaction twice.
func deliverTwice(t *tuning) { t.around = meshtest.DeliverTwice }

// spansTo records every span of the shop in sp.
func spansTo(sp sdktrace.SpanProcessor) option {
	return func(t *tuning) { t.spans = sp }
}
