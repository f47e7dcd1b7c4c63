package mesh

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// CommandHandler handles one kind of command: a use case that changes state.
type CommandHandler[C any] interface {
	Handle(ctx context.Context, cmd C) error
}

// QueryHandler handles one kind of query: a use case that only reads.
type QueryHandler[Q, R any] interface {
	Handle(ctx context.Context, q Q) (R, error)
}

// CommandFunc adapts a function to CommandHandler.
type CommandFunc[C any] func(ctx context.Context, cmd C) error

// Handle calls f.
func (f CommandFunc[C]) Handle(ctx context.Context, cmd C) error { return f(ctx, cmd) }

// QueryFunc adapts a function to QueryHandler.
type QueryFunc[Q, R any] func(ctx context.Context, q Q) (R, error)

// Handle calls f.
func (f QueryFunc[Q, R]) Handle(ctx context.Context, q Q) (R, error) { return f(ctx, q) }

// eventKey carries, in a handler's context, the event being reacted to, so
// that every log line of the work it causes names its correlation id.
type eventKey struct{}

// Observed wraps a command handler with the pipeline every command gets:
// a log line with its outcome and duration, and the metrics.
func Observed[C any](name string, log zerolog.Logger, m *Metrics, h CommandHandler[C]) CommandHandler[C] {
	return CommandFunc[C](func(ctx context.Context, cmd C) error {
		start := time.Now()
		err := h.Handle(ctx, cmd)
		m.observeCommand(name, err, time.Since(start))
		ev := log.Debug()
		if err != nil {
			ev = log.Info().Err(err)
		}
		if e, ok := ctx.Value(eventKey{}).(Envelope); ok {
			ev = ev.Str("correlation_id", e.CorrelationID).Str("caused_by", e.Subject)
		}
		if id := TraceID(TraceParent(ctx)); id != "" {
			ev = ev.Str("trace_id", id)
		}
		ev.Str("command", name).Dur("duration", time.Since(start)).Msg("command")
		return err
	})
}

// ObservedQuery wraps a query handler with metrics.
func ObservedQuery[Q, R any](name string, m *Metrics, h QueryHandler[Q, R]) QueryHandler[Q, R] {
	return QueryFunc[Q, R](func(ctx context.Context, q Q) (R, error) {
		start := time.Now()
		r, err := h.Handle(ctx, q)
		m.observeQuery(name, err, time.Since(start))
		return r, err
	})
}
