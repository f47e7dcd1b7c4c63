package mesh

// recent keeps what was put lately: at least the last size entries, at
// most twice as many. It forgets in whole generations: once the newer map
// holds size entries it becomes the older one, and the older one is
// dropped. That bounds a cache by what the shop did lately, not by what it
// ever did, with no list to keep in order on every read.
type recent[K comparable, V any] struct {
	size       int
	newer, old map[K]V
}

func newRecent[K comparable, V any](size int) *recent[K, V] {
	return &recent[K, V]{size: size, newer: make(map[K]V), old: make(map[K]V)}
}

func (r *recent[K, V]) get(k K) (V, bool) {
	if v, ok := r.newer[k]; ok {
		return v, true
	}
	v, ok := r.old[k]
	return v, ok
}

func (r *recent[K, V]) put(k K, v V) {
	if _, ok := r.newer[k]; !ok && len(r.newer) >= r.size {
		r.old, r.newer = r.newer, make(map[K]V, r.size)
	}
	r.newer[k] = v
	delete(r.old, k)
}

func (r *recent[K, V]) remove(k K) {
	delete(r.newer, k)
	delete(r.old, k)
}

func (r *recent[K, V]) len() int { return len(r.newer) + len(r.old) }
