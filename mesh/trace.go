package mesh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
)

// W3C trace context: a request that arrives with a traceparent keeps it; one
// without gets a new trace. Either way every event it causes, in every
// service, carries the same trace id in its traceparent header and every
// log line of the work names it.

type traceKey struct{}

var traceParentPattern = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// WithTrace returns ctx carrying traceparent.
func WithTrace(ctx context.Context, traceparent string) context.Context {
	return context.WithValue(ctx, traceKey{}, traceparent)
}

// TraceParent returns the traceparent carried by ctx, if any.
func TraceParent(ctx context.Context) string {
	tp, _ := ctx.Value(traceKey{}).(string)
	return tp
}

// TraceID returns the trace id part of a traceparent.
func TraceID(traceparent string) string {
	if len(traceparent) < 35 {
		return ""
	}
	return traceparent[3:35]
}

func newTraceParent() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// traceRequests puts the request's trace context, or a new one, into the
// request's context and echoes it in the response.
func traceRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp := r.Header.Get("traceparent")
		if !traceParentPattern.MatchString(tp) {
			tp = newTraceParent()
		}
		w.Header().Set("traceparent", tp)
		next.ServeHTTP(w, r.WithContext(WithTrace(r.Context(), tp)))
	})
}
