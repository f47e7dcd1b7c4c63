package httpapi

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// RingSize is how many changes a Broadcast keeps: how far a follower may
// fall behind before it is dropped. It is the buffer each follower had of
// its own before (mesh.Views.Changes), now shared.
const RingSize = 1024

// Broadcast hands every change of one stream to all its followers at the
// cost of one: the stream is followed once, each change is encoded once,
// as the Server-Sent Event every follower is sent, and kept in a ring that
// followers read at their own pace. Publishing never waits for a
// follower: one the ring laps has missed changes, and is dropped. A
// follower then costs a place in the ring, not a channel, a goroutine, a
// decoding and an encoding of every change; before, 1,500 clients that
// never read cut the shop's orders per second to a fifth (issue 19).
//
// The stream is followed while someone follows the Broadcast, and let go
// when the last follower leaves, so that a shop nobody watches pays
// nothing for its changes.
type Broadcast[T any] struct {
	name   string
	event  string
	follow func(context.Context) <-chan T
	show   func(T) any
	size   int

	mu        sync.Mutex
	ring      []frame[T]
	next      uint64 // the number of changes published so far
	wake      chan struct{}
	followers int
	feed      *feed
}

// frame is a change, and the event that sends it.
type frame[T any] struct {
	value T
	data  []byte
}

// feed is one following of the stream; ended closes when it stops.
type feed struct {
	cancel context.CancelFunc
	ended  chan struct{}
}

// NewBroadcast serves the changes follow sends until its context ends,
// named name in metrics, each sent as an event of type event whose data
// is show's JSON of the change. follow must be following when it returns:
// a follower is told it watches as soon as it joined.
func NewBroadcast[T any](name, event string, follow func(context.Context) <-chan T, show func(T) any) *Broadcast[T] {
	return newBroadcast(name, event, follow, show, RingSize)
}

func newBroadcast[T any](name, event string, follow func(context.Context) <-chan T, show func(T) any, size int) *Broadcast[T] {
	return &Broadcast[T]{
		name: name, event: event, follow: follow, show: show, size: size,
		ring: make([]frame[T], size), wake: make(chan struct{}),
	}
}

// join places a follower at the ring's head, following the stream first
// if nobody did.
func (b *Broadcast[T]) join() (pos uint64, f *feed) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.feed == nil {
		b.feed = b.start()
	}
	b.followers++
	return b.next, b.feed
}

// leave lets the stream go when its last follower left.
func (b *Broadcast[T]) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.followers--; b.followers == 0 && b.feed != nil {
		b.feed.cancel()
		b.feed = nil
	}
}

// start follows the stream; b.mu is held.
func (b *Broadcast[T]) start() *feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &feed{cancel: cancel, ended: make(chan struct{})}
	changes := b.follow(ctx)
	go b.run(f, changes)
	return f
}

// run publishes every change until the stream closes: let go, or because
// the stream's own reader fell behind. In the second case the followers
// of this feed have missed changes, and ended drops them; the next
// follower follows the stream again.
func (b *Broadcast[T]) run(f *feed, changes <-chan T) {
	for c := range changes {
		b.publish(c)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.feed == f {
		b.feed = nil
	}
	f.cancel()
	close(f.ended)
}

// publish encodes a change once and wakes the followers; it never waits
// for them.
func (b *Broadcast[T]) publish(c T) {
	data, err := sseEvent(b.event, b.show(c))
	if err != nil {
		return // a change that cannot be encoded cannot be sent to anyone
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ring[b.next%uint64(b.size)] = frame[T]{value: c, data: data}
	b.next++
	close(b.wake)
	b.wake = make(chan struct{})
}

// writesPerSecond is how many writes a broadcast makes to its followers
// in a second, together, at most: each follower waits this share of a
// second times the number of followers between two writes, and its
// changes gather meanwhile. A lone follower is written to at once; 256
// wait 50 ms, and cost 20 writes a second each, not one for every change
// of a busy shop.
const writesPerSecond = 5_000

// gap is how long a follower waits after a write before the next.
func (b *Broadcast[T]) gap() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Second * time.Duration(b.followers) / writesPerSecond
}

// since appends to dst the changes from pos on, and returns where the
// follower is then and what closes at the next change. ok is false when
// the ring has lapped the follower: it missed changes.
func (b *Broadcast[T]) since(pos uint64, dst []frame[T]) (_ []frame[T], next uint64, wake <-chan struct{}, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next-pos > uint64(b.size) {
		return dst, pos, nil, false
	}
	for ; pos < b.next; pos++ {
		dst = append(dst, b.ring[pos%uint64(b.size)])
	}
	return dst, pos, b.wake, true
}

// sseEvent is one Server-Sent Event of type event with v's JSON as its
// data, as Huma's sse package writes it.
func sseEvent(event string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)+len(event)+18)
	out = append(out, "event: "...)
	out = append(out, event...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...), nil
}
