package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// View is one read-model entry a projection wants published: the latest
// representation of an entity. A nil Value records that the entity is gone.
type View struct {
	Key   string
	Value any
}

// viewRecord is what a KV entry holds. Seq is the stream sequence the view
// reflects, which is how a late or replayed write is refused.
type viewRecord struct {
	Seq     uint64          `json:"seq"`
	Deleted bool            `json:"deleted,omitempty"`
	View    json.RawMessage `json:"view,omitempty"`
}

type cachedView struct {
	rev    uint64
	record viewRecord
	// shown is the latest sequence handed to readers of Changes: this
	// replica's own writes reach the cache before the watch brings them.
	shown uint64
}

// Views is a KV read model with an in-memory copy kept current by a watch.
// Writes never move an entry backwards: an older sequence is ignored.
type Views struct {
	kv    jetstream.KeyValue
	mu    sync.RWMutex
	cache map[string]cachedView
	// readers of Changes, each with its own bounded buffer.
	readers map[chan Change]struct{}
}

// NewViews wraps a provisioned bucket.
func NewViews(kv jetstream.KeyValue) *Views {
	return &Views{kv: kv, cache: make(map[string]cachedView), readers: make(map[chan Change]struct{})}
}

// Change is a view as a replica just wrote it.
type Change struct {
	Key     string
	Seq     uint64
	Deleted bool
	View    json.RawMessage
}

// changeBuffer is how far a reader of Changes may fall behind before it is
// dropped.
const changeBuffer = 1024

// Changes sends every view written from now on, by any replica, until ctx
// ends; then the channel closes. A reader that falls changeBuffer changes
// behind is dropped rather than waited for, so a slow client never holds up
// the read model: its channel closes early, and it may start again.
//
// The views come from the bucket's watch, and a bucket keeps only each
// key's latest value: a view written again before the watch has delivered
// it is replaced, and only the newer one is sent. Views of a key always
// come in the order they were written, and the latest always comes.
func (v *Views) Changes(ctx context.Context) <-chan Change {
	ch := make(chan Change, changeBuffer)
	v.mu.Lock()
	v.readers[ch] = struct{}{}
	v.mu.Unlock()
	context.AfterFunc(ctx, func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.drop(ch)
	})
	return ch
}

// drop closes a reader's channel once; v.mu is held.
func (v *Views) drop(ch chan Change) {
	if _, ok := v.readers[ch]; ok {
		delete(v.readers, ch)
		close(ch)
	}
}

// broadcast hands a change to every reader without waiting; v.mu is held.
func (v *Views) broadcast(key string, rec viewRecord) {
	c := Change{Key: key, Seq: rec.Seq, Deleted: rec.Deleted, View: rec.View}
	for ch := range v.readers {
		select {
		case ch <- c:
		default:
			v.drop(ch)
		}
	}
}

// Watch keeps the in-memory copy current with every replica's writes until
// ctx ends. It returns once the initial values have been loaded. A watch
// nobody answers (on a cluster, a bucket whose leader is being elected as
// the services start) is asked for again; each ask runs on ctx itself,
// which the watch lives as long as, bounded by the client's own timeout.
func (v *Views) Watch(ctx context.Context) error {
	w, err := untilAnswered(ctx, func(context.Context) (jetstream.KeyWatcher, error) {
		return v.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", v.kv.Bucket(), err)
	}
	for entry := range w.Updates() {
		if entry == nil {
			break // initial values loaded
		}
		v.remember(entry, false)
	}
	go func() {
		for entry := range w.Updates() {
			if entry != nil {
				v.remember(entry, true)
			}
		}
	}()
	return nil
}

// remember keeps an entry unless the cache has a newer one; a live entry
// from the watch also goes to the readers of Changes.
func (v *Views) remember(entry jetstream.KeyValueEntry, live bool) {
	var rec viewRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return // not ours; never let a stray value break the cache
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	cur, ok := v.cache[entry.Key()]
	if !ok || rec.Seq > cur.record.Seq || (rec.Seq == cur.record.Seq && entry.Revision() > cur.rev) {
		cur = cachedView{rev: entry.Revision(), record: rec, shown: cur.shown}
	}
	if live && rec.Seq > cur.shown {
		cur.shown = rec.Seq
		v.broadcast(entry.Key(), rec)
	}
	v.cache[entry.Key()] = cur
}

// Get decodes the view of key into out. It reports false when there is no
// view or the entity was deleted.
func (v *Views) Get(ctx context.Context, key string, out any) (bool, error) {
	v.mu.RLock()
	c, ok := v.cache[key]
	v.mu.RUnlock()
	if !ok {
		var err error
		if c, ok, err = v.load(ctx, key); err != nil || !ok {
			return false, err
		}
	}
	if c.record.Deleted {
		return false, nil
	}
	return true, json.Unmarshal(c.record.View, out)
}

func (v *Views) load(ctx context.Context, key string) (cachedView, bool, error) {
	entry, err := v.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Gone from the bucket (purged, or the bucket was recreated): forget
		// it, so the next write creates it afresh.
		v.mu.Lock()
		delete(v.cache, key)
		v.mu.Unlock()
		return cachedView{}, false, nil
	}
	if err != nil {
		return cachedView{}, false, fmt.Errorf("get %s/%s: %w", v.kv.Bucket(), key, err)
	}
	v.remember(entry, false)
	v.mu.RLock()
	defer v.mu.RUnlock()
	c, ok := v.cache[key]
	return c, ok, nil
}

// put stores rec under key unless the bucket already holds a view of the same
// or a later sequence. Compare-and-set on the KV revision makes this safe
// with several replicas writing the same key. It reports whether it wrote.
func (v *Views) put(ctx context.Context, key string, rec viewRecord) (bool, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	for range 10 {
		v.mu.RLock()
		cur, known := v.cache[key]
		v.mu.RUnlock()
		if known && cur.record.Seq >= rec.Seq {
			return false, nil
		}
		var rev uint64
		if known {
			rev, err = v.kv.Update(ctx, key, data, cur.rev)
		} else {
			rev, err = v.kv.Create(ctx, key, data)
		}
		if err == nil {
			v.mu.Lock()
			v.cache[key] = cachedView{rev: rev, record: rec, shown: v.cache[key].shown}
			v.mu.Unlock()
			return true, nil
		}
		if !isRevisionConflict(err) {
			return false, fmt.Errorf("put %s/%s: %w", v.kv.Bucket(), key, err)
		}
		if _, _, err := v.load(ctx, key); err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("put %s/%s: %w", v.kv.Bucket(), key, ErrConflict)
}

func isRevisionConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// Lookup reads the view of key as a T, or returns notFound when there is
// none (or the entity was deleted).
func Lookup[T any](ctx context.Context, v *Views, key string, notFound error) (T, error) {
	var out T
	found, err := v.Get(ctx, key, &out)
	if err == nil && !found {
		err = notFound
	}
	return out, err
}

// ChangesOf is Changes read as values of T: every view written from now on
// that keep accepts (nil keeps all), until ctx ends or the reader falls too
// far behind; then the channel closes. A deleted view, or one that does not
// decode, is passed over.
func ChangesOf[T any](ctx context.Context, v *Views, keep func(T) bool) <-chan T {
	out := make(chan T)
	changes := v.Changes(ctx) // following from now, before this returns
	go func() {
		defer close(out)
		for c := range changes {
			var t T
			if c.Deleted || json.Unmarshal(c.View, &t) != nil || (keep != nil && !keep(t)) {
				continue
			}
			select {
			case out <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
