package main

import (
	"time"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// quickRetries redelivers a failed event within a quarter second, so that
// a saga test waits on its shop, not on backoff; an event ahead of its
// state is set aside after 3 s, well within a test's patience and well
// beyond a projection's lag on a busy machine.
func quickRetries(t *tuning) {
	t.reactions = mesh.ReactionOptions{
		Backoff: []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond},
		AckWait: time.Second, AheadFor: 3 * time.Second,
	}
}

// deliverTwice hands every event to its reaction twice.
func deliverTwice(t *tuning) { t.around = meshtest.DeliverTwice }

// spansTo records every span of the shop in sp.
func spansTo(sp sdktrace.SpanProcessor) option {
	return func(t *tuning) { t.spans = sp }
}

// snapshotsEvery has every projection take a snapshot of its file after n
// events, instead of tens of thousands.
func snapshotsEvery(n uint64) option {
	return func(t *tuning) { t.snapshotMin = n }
}

// archivingEvery runs the shop's archiver every d, archiving every event
// at once (no age, no overlap), instead of a day's worth every minute.
func archivingEvery(d time.Duration) option {
	return func(t *tuning) { t.archiveEvery, t.archiveAfter, t.archiveOverlap = d, 0, 0 }
}
