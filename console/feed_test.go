package console

import "testing"

// A follower whose buffer is full is too slow: it is dropped, once, and
// the consumer that hands it events never waits for it.
func TestASlowFollowerIsDroppedNotWaitedFor(t *testing.T) {
	t.Parallel()
	drops := 0
	f := &follower{events: make(chan Event, 2), drop: func() { drops++ }, keep: func(e Event) bool { return e.OrderID != "other" }}
	for range 5 {
		f.take(Event{OrderID: "mine"}) // would block at the third if take waited
	}
	if drops != 1 {
		t.Fatalf("dropped %d times, want once", drops)
	}
	if len(f.events) != 2 {
		t.Fatalf("%d events buffered, want the 2 that fit", len(f.events))
	}
}

// A follower of one order gets only that order's events, and what it
// does not want never fills its buffer.
func TestAFollowerGetsOnlyWhatItKeeps(t *testing.T) {
	t.Parallel()
	dropped := false
	f := &follower{events: make(chan Event, 1), drop: func() { dropped = true }, keep: func(e Event) bool { return e.OrderID == "mine" }}
	for range 10 {
		f.take(Event{OrderID: "other"})
	}
	f.take(Event{OrderID: "mine"})
	if dropped || len(f.events) != 1 || (<-f.events).OrderID != "mine" {
		t.Fatalf("dropped %v, buffered %d", dropped, len(f.events))
	}
}
