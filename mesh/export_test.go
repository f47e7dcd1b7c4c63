package mesh

// Closing is closed once Stop has begun to close rc's workers: from then
// on a worker starts nothing more. For tests of Stop only.
func (rc *Reactor) Closing() <-chan struct{} { return rc.quit }
