package observe

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing makes OpenTelemetry spans for HTTP requests, commands and
// reactions, and carries their context across services in the W3C
// traceparent header of every event: one trace follows an order from the
// request through every hop. Spans are always made, so every request has a
// trace id for logs and headers; they leave the process only when an OTLP
// endpoint is configured. A nil *Tracing makes no spans.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// NewTracing returns tracing for a process named service. With an OTLP/HTTP
// endpoint (e.g. http://jaeger:4318) spans are exported in batches; extra
// processors (tests) see every span.
func NewTracing(ctx context.Context, service, endpoint string, extra ...sdktrace.SpanProcessor) (*Tracing, error) {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))),
	}
	if endpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("otlp exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	for _, p := range extra {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracing{provider: tp, tracer: tp.Tracer("github.com/shopmesh/shopmesh/mesh")}, nil
}

// Shutdown flushes spans not yet exported.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

var noopTracer = noop.NewTracerProvider().Tracer("")

// Start starts a span of kind named name; with a nil *Tracing, one that
// records nothing.
func (t *Tracing) Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	tracer := noopTracer
	if t != nil {
		tracer = t.tracer
	}
	return tracer.Start(ctx, name, trace.WithSpanKind(kind))
}

var propagator = propagation.TraceContext{}

// TraceParent returns the W3C traceparent of the span in ctx ("" if none).
func TraceParent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// TraceID returns the trace id of the span in ctx ("" if none).
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// WithRemoteParent returns ctx continuing the trace of traceparent (from
// an HTTP header or an event), if it is a valid one.
func WithRemoteParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
