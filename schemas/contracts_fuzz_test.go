package schemas

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopmesh/shopmesh/events"
)

// FuzzContracts reads bodies as a reader does, in front of the events'
// decoder: an event type (by its place among them all) and a body. The
// seed corpus is in testdata/fuzz/FuzzContracts, and runs with every go
// test; `go test -fuzz FuzzContracts ./schemas` looks for more. It holds:
//   - a body the shape lets through keeps the schema (the validator,
//     tolerant of fields it does not know, agrees), so Check is exactly
//     the schema, never looser;
//   - a refusal gives the type and the schema's reason, on one line;
//   - an event a reader accepts and decodes, written again, keeps its
//     contract: what is let in is what a producer writes.
func FuzzContracts(f *testing.F) {
	c := contracts(f)
	types := events.All()
	f.Add(uint8(11), []byte(`{"orderId":"X"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		eventType := types[int(which)%len(types)].EventType()
		fits := c.shapes[eventType].fits(body)
		want := c.reasons.reason(eventType, body)
		if fits && want != nil {
			t.Fatalf("the shape let through a body the schema refuses: %v", want)
		}
		err := c.Check(eventType, body)
		if (err == nil) != (want == nil) {
			t.Fatalf("Check says %v, the schema %v", err, want)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), eventType+": ") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("reason %q", err)
			}
			return
		}
		ev, decodeErr := events.Decode(eventType, body)
		if decodeErr != nil {
			return // a body the schema allows and Go cannot hold (1e2 for an int64, a date that is not one)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(eventType, again); err != nil {
			t.Fatalf("%s, accepted and decoded, is written again as %s, which breaks its contract: %v", body, again, err)
		}
	})
}
