package httpapi

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// A Follow is what one follower asked for: the `watching` event it is
// sent first, and which changes it keeps (nil: every one).
type Follow[W, T any] struct {
	Watching W
	Keep     func(T) bool
}

// RegisterStream serves op as a stream of changes (Server-Sent Events):
// each follower is admitted by followers, sent open's `watching` event,
// then every change of b that it keeps. events documents the events, as
// for Huma's sse.Register: "watching" and b's event. A follower over the
// bounds is answered 429 or 503 with a Retry-After; one that falls
// RingSize changes behind, or whose write does not complete within
// WriteTimeout, is disconnected.
func RegisterStream[I, W, T any](api huma.API, followers *Followers, op huma.Operation, events map[string]any,
	b *Broadcast[T], open func(context.Context, *I) Follow[W, T]) {
	documentStream(api, &op, events)
	op.Middlewares = append(op.Middlewares, followers.Admit(api, b.name))
	huma.Register(api, op, func(ctx context.Context, in *I) (*huma.StreamResponse, error) {
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			f := open(ctx, in) // the handler's context: it knows the caller
			first, err := sseEvent("watching", f.Watching)
			if err != nil {
				return
			}
			// The API is humago's, whose body writer is the connection's
			// http.ResponseWriter: deadlines and flushes go through it.
			w, ok := hc.BodyWriter().(http.ResponseWriter)
			if !ok {
				return
			}
			conn := boundSendBuffer(ctx)
			hc.SetHeader("Content-Type", "text/event-stream")
			if err := b.serve(hc.Context(), follower{w: w, rc: http.NewResponseController(w), conn: conn}, first, f.Keep); err != nil {
				followers.dropped(b.name)
			}
		}}, nil
	})
}

// errDropped is why a follower was disconnected.
var errDropped = errors.New("the follower fell too far behind")

// serve sends first, then every change keep keeps, until ctx ends (the
// client left). It returns errDropped, or the write's error, when the
// follower is dropped; then its connection is closed, not kept for
// another request.
func (b *Broadcast[T]) serve(ctx context.Context, out follower, first []byte, keep func(T) bool) (err error) {
	defer func() {
		if err != nil {
			out.cut()
		}
	}()
	pos, f := b.join()
	defer b.leave()
	if err := out.write(first); err != nil {
		return out.failed(ctx, err)
	}
	var frames []frame[T]
	var batch []byte
	for {
		var wake <-chan struct{}
		var ok bool
		if frames, pos, wake, ok = b.since(pos, frames[:0]); !ok {
			return errDropped
		}
		if batch = appendKept(batch[:0], frames, keep); len(batch) > 0 {
			if err := out.write(batch); err != nil {
				return out.failed(ctx, err)
			}
		}
		if !out.pace(ctx, b.gap()) {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil
		case <-f.ended:
			return errDropped // the stream's own reader fell behind: changes were missed
		}
	}
}

// appendKept appends the events of the frames keep keeps.
func appendKept[T any](batch []byte, frames []frame[T], keep func(T) bool) []byte {
	for _, fr := range frames {
		if keep == nil || keep(fr.value) {
			batch = append(batch, fr.data...)
		}
	}
	return batch
}

// writeRefusal answers a follower turned away with its problem and
// Retry-After.
func writeRefusal(api huma.API, hc huma.Context, err error) {
	var se huma.StatusError
	if !errors.As(err, &se) {
		return
	}
	if h, ok := err.(huma.HeadersError); ok {
		for name, values := range h.GetHeaders() {
			for _, v := range values {
				hc.AppendHeader(name, v)
			}
		}
	}
	_ = huma.WriteErr(api, hc, se.GetStatus(), se.Error())
}

// FollowerErrors adds to errs the statuses a follower is turned away with.
func FollowerErrors(errs []int) []int {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		if !slices.Contains(errs, status) {
			errs = append(errs, status)
		}
	}
	return errs
}

// documentStream documents op's 200 as Huma's sse.Register does (a
// text/event-stream of the given events), and its refusals.
func documentStream(api huma.API, op *huma.Operation, events map[string]any) {
	op.Errors = FollowerErrors(op.Errors)
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	if op.Responses["200"] == nil {
		op.Responses["200"] = &huma.Response{}
	}
	if op.Responses["200"].Content == nil {
		op.Responses["200"].Content = map[string]*huma.MediaType{}
	}
	op.Responses["200"].Content["text/event-stream"] = &huma.MediaType{Schema: &huma.Schema{
		Title:       "Server Sent Events",
		Description: "Each oneOf object in the array represents one possible Server Sent Events (SSE) message, serialized as UTF-8 text according to the SSE specification.",
		Type:        huma.TypeArray,
		Items:       &huma.Schema{Extensions: map[string]any{"oneOf": eventSchemas(api, events)}},
	}}
}

// eventSchemas are the schemas of the events, by title.
func eventSchemas(api huma.API, events map[string]any) []*huma.Schema {
	schemas := make([]*huma.Schema, 0, len(events))
	for name, v := range events {
		t := reflect.TypeOf(v)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		schemas = append(schemas, &huma.Schema{
			Title: "Event " + name,
			Type:  huma.TypeObject,
			Properties: map[string]*huma.Schema{
				"id":    {Type: huma.TypeInteger, Description: "The event ID."},
				"event": {Type: huma.TypeString, Description: "The event name.", Extensions: map[string]any{"const": name}},
				"data":  api.OpenAPI().Components.Schemas.Schema(t, true, name),
				"retry": {Type: huma.TypeInteger, Description: "The retry time in milliseconds."},
			},
			Required: []string{"data", "event"},
		})
	}
	slices.SortFunc(schemas, func(a, b *huma.Schema) int { return strings.Compare(a.Title, b.Title) })
	return schemas
}
