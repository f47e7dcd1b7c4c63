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
}

// Views is a KV read model with an in-memory copy kept current by a watch.
// Writes never move an entry backwards: an older sequence is ignored.
type Views struct {
	kv    jetstream.KeyValue
	mu    sync.RWMutex
	cache map[string]cachedView
}

// NewViews wraps a provisioned bucket.
func NewViews(kv jetstream.KeyValue) *Views {
	return &Views{kv: kv, cache: make(map[string]cachedView)}
}

// Watch keeps the in-memory copy current with every replica's writes until
// ctx ends. It returns once the initial values have been loaded.
func (v *Views) Watch(ctx context.Context) error {
	w, err := v.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch %s: %w", v.kv.Bucket(), err)
	}
	for entry := range w.Updates() {
		if entry == nil {
			break // initial values loaded
		}
		v.remember(entry)
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

func (v *Views) remember(entry jetstream.KeyValueEntry) {
	var rec viewRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return // not ours; never let a stray value break the cache
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	cur, ok := v.cache[entry.Key()]
	if !ok || rec.Seq > cur.record.Seq || (rec.Seq == cur.record.Seq && entry.Revision() > cur.rev) {
		v.cache[entry.Key()] = cachedView{rev: entry.Revision(), record: rec}
	}
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
	v.remember(entry)
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
			v.cache[key] = cachedView{rev: rev, record: rec}
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
