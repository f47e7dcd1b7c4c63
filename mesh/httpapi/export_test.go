package httpapi

// NewBroadcastOfSize is NewBroadcast with a ring of size changes, so that
// a test laps a follower in a few changes.
var NewBroadcastOfSize = newBroadcast[Change]

// Change is what the tests' streams send.
type Change struct {
	N    int    `json:"n"`
	Note string `json:"note,omitempty"`
}
