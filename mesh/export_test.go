package mesh

import "context"

// Closing is closed once Stop has begun to close rc's workers: from then
// on a worker starts nothing more. For tests of Stop only.
func (rc *Reactor) Closing() <-chan struct{} { return rc.quit }

// LosingAnswers returns w with every publish's answer lost once the events
// are stored, so that it is tried again, as after a timeout: the retry is
// the real server's answer to the same messages. For tests of Write only.
func (w *Writer) LosingAnswers() *Writer {
	lossy := *w
	lossy.publish = func(ctx context.Context, cause Cause, out ...Outgoing) (uint64, error) {
		if _, err := w.publish(ctx, cause, out...); err != nil {
			return 0, err
		}
		return w.publish(ctx, cause, out...)
	}
	return &lossy
}
