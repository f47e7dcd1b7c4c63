package events

import (
	"encoding/json"
	"fmt"
	"sort"
)

var (
	decoders = map[string]func([]byte) (Event, error){}
	zeros    = map[string]Event{}
)

func init() {
	register[ProductCreated]()
	register[ProductUpdated]()
	register[ProductDeleted]()
	register[StockAdjusted]()
	register[StockReserved]()
	register[StockReleased]()
	register[StockCommitted]()
	register[ReservationAccepted]()
	register[ReservationRejected]()
	register[ReservationReleased]()
	register[ReservationCommitted]()
	register[OrderPlaced]()
	register[OrderStockReserved]()
	register[OrderConfirmed]()
	register[OrderRejected]()
	register[OrderCancelled]()
	register[OrderExpired]()
	register[PaymentCaptured]()
	register[PaymentDeclined]()
	register[PaymentRefunded]()
}

func register[T Event]() {
	var zero T
	zeros[zero.EventType()] = zero
	decoders[zero.EventType()] = func(data []byte) (Event, error) {
		var v T
		err := json.Unmarshal(data, &v)
		return v, err
	}
}

// Decode turns a body of the given type into its Go value. A type this
// version does not know (a timer, an event of a newer producer) decodes to
// nil without error: readers skip it, so a newer producer never stops an
// older reader.
func Decode(eventType string, data []byte) (Event, error) {
	decode, ok := decoders[eventType]
	if !ok {
		return nil, nil
	}
	e, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return e, nil
}

func sortedTypes() []string {
	types := make([]string, 0, len(zeros))
	for t := range zeros {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}
