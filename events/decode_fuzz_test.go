package events_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/shopmesh/shopmesh/events"
)

// FuzzDecode feeds the events' decoder what a stream may hold: a type (by
// its place among them all, or one past them for a type this version does
// not know) and any body. The seed corpus is in testdata/fuzz/FuzzDecode,
// and runs with every go test; `go test -fuzz FuzzDecode ./events` looks
// for more. It holds: Decode never panics; a type it does not know is
// nil, without error (ADR 12); and an event it decodes is written the
// same way each time it is decoded and written again, so that what a
// reader understood is what it would write.
func FuzzDecode(f *testing.F) {
	types := events.All()
	f.Add(uint8(11), []byte(`{"orderId":"X"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		eventType := "shopmesh.shipping.parcel.sent.v1"
		if i := int(which) % (len(types) + 1); i < len(types) {
			eventType = types[i].EventType()
		}
		ev, err := events.Decode(eventType, body)
		if err != nil {
			return
		}
		if ev == nil {
			if eventType != "shopmesh.shipping.parcel.sent.v1" {
				t.Fatalf("%s decoded to nothing", eventType)
			}
			return
		}
		if ev.EventType() != eventType {
			t.Fatalf("a %s body decoded to a %s", eventType, ev.EventType())
		}
		once := mustMarshal(t, ev)
		again, err := events.Decode(eventType, once)
		if err != nil {
			t.Fatalf("%s, written again as %s, does not decode: %v", body, once, err)
		}
		if twice := mustMarshal(t, again); !bytes.Equal(once, twice) {
			t.Fatalf("%s is written as %s, then as %s", body, once, twice)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
