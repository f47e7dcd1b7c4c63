package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// kind is one event type as the registry knows it: its zero value, which
// names its type and subject, and how to decode a body into it.
type kind struct {
	zero   Event
	decode func([]byte) (Event, error)
}

func kindOf[T Event]() kind {
	var zero T
	decode := func(data []byte) (Event, error) {
		var v T
		err := json.Unmarshal(data, &v)
		return v, err
	}
	return kind{zero: zero, decode: decode}
}

// registry is every event type this version knows, listed once: a new
// event is added here, and Decode, All and the schemas follow.
var registry = []kind{
	kindOf[ProductCreated](),
	kindOf[ProductUpdated](),
	kindOf[ProductDeleted](),
	kindOf[StockAdjusted](),
	kindOf[StockReserved](),
	kindOf[StockReleased](),
	kindOf[StockCommitted](),
	kindOf[ReservationAccepted](),
	kindOf[ReservationRejected](),
	kindOf[ReservationReleased](),
	kindOf[ReservationCommitted](),
	kindOf[OrderPlaced](),
	kindOf[OrderStockReserved](),
	kindOf[OrderConfirmed](),
	kindOf[OrderRejected](),
	kindOf[OrderCancelled](),
	kindOf[OrderExpired](),
	kindOf[PaymentCaptured](),
	kindOf[PaymentDeclined](),
	kindOf[PaymentRefunded](),
}

// kinds is the registry by event type, for Decode.
var kinds = byType(registry)

func byType(registry []kind) map[string]kind {
	out := make(map[string]kind, len(registry))
	for _, k := range registry {
		out[k.zero.EventType()] = k
	}
	return out
}

// Decode turns a body of the given type into its Go value. A type this
// version does not know (a timer, an event of a newer producer) decodes to
// nil without error: readers skip it, so a newer producer never stops an
// older reader.
func Decode(eventType string, data []byte) (Event, error) {
	k, ok := kinds[eventType]
	if !ok {
		return nil, nil
	}
	e, err := k.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return e, nil
}

// All returns one zero value of every event, sorted by type, for schema
// generation and checks that must cover each contract.
func All() []Event {
	out := make([]Event, 0, len(registry))
	for _, k := range registry {
		out = append(out, k.zero)
	}
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.EventType(), b.EventType()) })
	return out
}
