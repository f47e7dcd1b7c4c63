package mesh_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// BenchmarkWritePath measures the runtime's whole write path: read state
// from bbolt, decide, publish with an expectation, and wait until the event
// is projected into bbolt and its view is in KV. Its sibling
// BenchmarkPlainPublish is a bare JetStream publish loop on the same kind
// of stream; the ratio is what the runtime costs.
func BenchmarkWritePath(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			js := streamOnNewServer(b)
			h := startHarness(b, js, filepath.Join(b.TempDir(), "bench.db"))
			ctx := meshtest.Context(b)
			var n atomic.Int64
			b.SetParallelism(writers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					id := fmt.Sprintf("c%d", i%512)
					if _, err := h.increment(ctx, fmt.Sprintf("bench-%d", i), id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkPlainPublish(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			js := streamOnNewServer(b)
			ctx := meshtest.Context(b)
			var n atomic.Int64
			b.SetParallelism(writers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := js.Publish(ctx, fmt.Sprintf("test.counter.c%d.incremented", i%512), []byte(`{"counter":"c","value":1}`)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
