package observe

import (
	"time"

	"github.com/rs/zerolog"
)

// Observer is what the pipeline behaviours report to: a service's logger,
// the process's metrics and tracing. Metrics and Tracing may be nil.
type Observer struct {
	Log     zerolog.Logger
	Metrics *Metrics
	Tracing *Tracing
}

// Millis is d in milliseconds, to three decimals: log fields name their
// unit (duration_ms), and keep what a fast operation took.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
