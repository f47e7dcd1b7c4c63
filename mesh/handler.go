package mesh

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
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

// Observed wraps a command handler with the pipeline every command gets: a
// span, a log line with its outcome, duration, trace and correlation ids,
// and the metrics.
func Observed[C any](name string, o observe.Observer, h CommandHandler[C]) CommandHandler[C] {
	return CommandFunc[C](func(ctx context.Context, cmd C) error {
		ctx, span := o.Tracing.Start(ctx, "command "+name, trace.SpanKindInternal)
		defer span.End()
		start := time.Now()
		err := h.Handle(ctx, cmd)
		o.Metrics.ObserveCommand(name, err, time.Since(start))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		logCommand(ctx, o.Log, name, err, time.Since(start))
		return err
	})
}

// logCommand logs a command at debug; a refused one (a rule said no) at
// info, with why; one that failed for the runtime's own reasons (the store,
// a projection, a race lost too often, a deadline) at error. One cut short
// because its context was cancelled (the service stopping, its caller
// gone) is at info: nothing was lost, and an event's reaction is delivered
// again.
func logCommand(ctx context.Context, log zerolog.Logger, name string, err error, took time.Duration) {
	ev := log.Debug()
	switch {
	case errors.Is(err, context.Canceled):
		ev = log.Info().Err(err)
	case errors.Is(err, ErrWrite), errors.Is(err, ErrConflict), errors.Is(err, ErrProjectionStopped), errors.Is(err, context.DeadlineExceeded):
		ev = log.Error().Err(err)
	case err != nil:
		ev = log.Info().Err(err)
	}
	if e, ok := ctx.Value(eventKey{}).(Envelope); ok {
		ev = ev.Str("correlation_id", e.CorrelationID).Str("caused_by", e.Subject)
	}
	ev.Str("command", name).Str("trace_id", observe.TraceID(ctx)).Float64("duration_ms", observe.Millis(took)).Msg("command")
}

// ObservedQuery wraps a query handler with metrics.
func ObservedQuery[Q, R any](name string, o observe.Observer, h QueryHandler[Q, R]) QueryHandler[Q, R] {
	return QueryFunc[Q, R](func(ctx context.Context, q Q) (R, error) {
		start := time.Now()
		r, err := h.Handle(ctx, q)
		o.Metrics.ObserveQuery(name, err, time.Since(start))
		return r, err
	})
}
