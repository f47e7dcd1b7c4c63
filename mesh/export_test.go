package mesh

// Closing is closed once Stop has begun to close rc's workers: from then
// on a worker starts nothing more. For tests of Stop only.
func (rc *Reactor) Closing() <-chan struct{} { return rc.quit }

// KeepOnly bounds v's in-memory copy to n keys at least (2n at most), to
// test the bound without writing thousands of views.
func (v *Views) KeepOnly(n int) {
	v.cache, v.shown = newRecent[string, cachedView](n), newRecent[string, uint64](n)
}

// Kept is how many keys v holds in memory.
func (v *Views) Kept() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.cache.len()
}
