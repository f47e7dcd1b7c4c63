package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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
	// At is when the stream stored the event that made the view, in Unix
	// nanoseconds: kept in the outbox, so that a view published again at
	// start is let go as it would have been (letGo); never in the bucket.
	At int64 `json:"at,omitempty"`
	// earlier are the views of the key that events of the same batch made
	// before this one, in order: never stored, only sent to readers of
	// Changes.
	earlier []viewRecord
	// history marks a view made by an event the streams held already when
	// the projection started: it is written to the bucket if the bucket
	// lacks it, but it is no change to send.
	history bool
	// retried marks a view KV refused at first, published again.
	retried bool
}

type cachedView struct {
	rev    uint64
	record viewRecord
}

// Views is a KV read model with an in-memory copy of the views used lately,
// kept current by a watch; the bucket has the rest. Writes never move an
// entry backwards: an older sequence is ignored.
type Views struct {
	// TTL is how long the bucket keeps a view after it last changed (0:
	// for good).
	TTL   time.Duration
	kv    jetstream.KeyValue
	mu    sync.RWMutex
	cache *recent[string, cachedView]
	// readers of Changes, each with its own bounded buffer, and the latest
	// sequence handed to them of each key changed lately.
	readers map[chan Change]struct{}
	shown   *recent[string, uint64]
}

// viewsKept is how many keys written or read lately the in-memory copy
// keeps at least (twice as many at most, see recent): the open orders and
// the stock being sold, many times over. A key not kept is read from the
// bucket. It bounds the copy by what the shop does, not by every order it
// ever took: at a million orders the bucket holds a million views.
const viewsKept = 8192

// NewViews wraps a provisioned bucket.
func NewViews(kv jetstream.KeyValue) *Views {
	return &Views{
		kv: kv, cache: newRecent[string, cachedView](viewsKept),
		readers: make(map[chan Change]struct{}), shown: newRecent[string, uint64](viewsKept),
	}
}

// Change is a view as this replica's projection just published it.
type Change struct {
	Key     string
	Seq     uint64
	Deleted bool
	View    json.RawMessage
}

// changeBuffer is how far a reader of Changes may fall behind before it is
// dropped.
const changeBuffer = 1024

// Changes sends every view this replica's projection makes from now on,
// until ctx ends; then the channel closes. A reader that falls
// changeBuffer changes behind is dropped rather than waited for, so a slow
// client never holds up the read model: its channel closes early, and it
// may start again.
//
// The views come from the projection, not from the bucket's watch: a
// bucket keeps only each key's latest value, so a watcher a little behind
// misses a view written again before it was delivered (an order's
// awaiting_payment, replaced by confirmed a few ms later). Every replica
// projects every event, so each sends every view, whichever replica wrote
// it to the bucket first:
//   - in the order of the events for each key (keys among themselves in
//     any order), each view once;
//   - a view once it is in the bucket, or a later one of its key is, with
//     the views that events of the same batch made of the key before it;
//   - not the views of what the streams held when the projection started
//     (history): a replica that replays its streams sends only what is
//     new.
//
// A replica behind the others sends views later than the bucket has
// them, so a client that read a view first keeps it unless a change is
// newer (an order's version). A view the bucket refused for a while
// (NATS away) is sent when the outbox writes it, unless a later view of
// its key was sent meanwhile.
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

// followed reports whether Changes has readers now.
func (v *Views) followed() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.readers) > 0
}

// drop closes a reader's channel once; v.mu is held.
func (v *Views) drop(ch chan Change) {
	if _, ok := v.readers[ch]; ok {
		delete(v.readers, ch)
		close(ch)
	}
}

// show hands a view the projection has published to every reader without
// waiting, unless it is history or a later view of its key was handed
// already: a view kept in the outbox and published again later is not news.
func (v *Views) show(key string, rec viewRecord) {
	if rec.history {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if shown, _ := v.shown.get(key); rec.Seq <= shown {
		return
	}
	v.shown.put(key, rec.Seq)
	c := Change{Key: key, Seq: rec.Seq, Deleted: rec.Deleted, View: rec.View}
	for ch := range v.readers {
		select {
		case ch <- c:
		default:
			v.drop(ch)
		}
	}
}

// Watch keeps the in-memory copy current with every replica's writes from
// now on, until ctx ends. It reads nothing of what the bucket holds: a key
// is read when it is asked for (Get) or written (put). A watch nobody
// answers (on a cluster, a bucket whose leader is being elected as the
// services start) is asked for again; each ask runs on ctx itself, which
// the watch lives as long as, bounded by the client's own timeout.
func (v *Views) Watch(ctx context.Context) error {
	w, err := untilAnswered(ctx, func(context.Context) (jetstream.KeyWatcher, error) {
		return v.kv.WatchAll(ctx, jetstream.IgnoreDeletes(), jetstream.UpdatesOnly())
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", v.kv.Bucket(), err)
	}
	go func() {
		for entry := range w.Updates() {
			if entry != nil {
				v.remember(entry)
			}
		}
	}()
	return nil
}

// remember keeps an entry unless the cache has a newer one.
func (v *Views) remember(entry jetstream.KeyValueEntry) {
	var rec viewRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return // not ours; never let a stray value break the cache
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	cur, ok := v.cache.get(entry.Key())
	if !ok || rec.Seq > cur.record.Seq || (rec.Seq == cur.record.Seq && entry.Revision() > cur.rev) {
		v.cache.put(entry.Key(), cachedView{rev: entry.Revision(), record: rec})
	}
}

// Get decodes the view of key into out. It reports false when there is no
// view or the entity was deleted.
func (v *Views) Get(ctx context.Context, key string, out any) (bool, error) {
	c, ok := v.cached(key)
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
		// it, so the next write creates it afresh and is shown.
		v.mu.Lock()
		v.cache.remove(key)
		v.shown.remove(key)
		v.mu.Unlock()
		return cachedView{}, false, nil
	}
	if err != nil {
		return cachedView{}, false, fmt.Errorf("get %s/%s: %w", v.kv.Bucket(), key, err)
	}
	v.remember(entry)
	c, ok := v.cached(key)
	return c, ok, nil
}

// hasLater reports whether the view of key in memory, which put has just
// brought up to date, is later than seq.
func (v *Views) hasLater(key string, seq uint64) bool {
	c, ok := v.cached(key)
	return ok && c.record.Seq > seq
}

func (v *Views) cached(key string) (cachedView, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.cache.get(key)
}

// put stores rec under key unless the bucket already holds a view of the same
// or a later sequence. Compare-and-set on the KV revision makes this safe
// with several replicas writing the same key. It reports whether it wrote.
func (v *Views) put(ctx context.Context, key string, rec viewRecord) (bool, error) {
	if v.letGo(rec) {
		return false, nil
	}
	rec.earlier = nil // for readers of Changes only: the cache keeps the view alone
	rec.At = 0        // for the outbox only
	data, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	if _, known := v.cached(key); !known && rec.history {
		// A view of history is most likely in the bucket already: read it
		// rather than fail to create it first.
		if _, _, err := v.load(ctx, key); err != nil {
			return false, err
		}
	}
	for range 10 {
		cur, known := v.cached(key)
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
			v.cache.put(key, cachedView{rev: rev, record: rec})
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

// letGo reports whether the bucket would have let go of rec already: a view
// of history older than the bucket's TTL is not written again, or a
// replica that replays its streams would put back every view the bucket
// has let go.
func (v *Views) letGo(rec viewRecord) bool {
	return rec.history && v.TTL > 0 && rec.At != 0 && time.Since(time.Unix(0, rec.At)) > v.TTL
}

// validViewKey is nats.go's rule for a KV key: letters, digits and
// "-/_=.", neither starting nor ending with a dot, nor two dots in a row.
func validViewKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-/_=.", r)) {
			return false
		}
	}
	return true
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

// LookupOr is Lookup for a bucket that lets views go (Plan.BucketTTL): a
// key it no longer holds is read by local, from the service's local state,
// which reports whether it found the entity.
func LookupOr[T any](ctx context.Context, v *Views, key string, notFound error, local func() (T, bool, error)) (T, error) {
	out, err := Lookup[T](ctx, v, key, notFound)
	if !errors.Is(err, notFound) {
		return out, err
	}
	out, found, err := local()
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
