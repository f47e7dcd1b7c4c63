package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
)

// Event is one event of the mesh as the feed sends it: where it was
// stored and what it is, never its body.
type Event struct {
	Time        time.Time `json:"time" doc:"When the event happened (ce-time)."`
	Service     string    `json:"service" doc:"The service that published it." example:"orders"`
	Stream      string    `json:"stream" example:"ORDERS"`
	Sequence    uint64    `json:"sequence" doc:"Its sequence in the stream."`
	Subject     string    `json:"subject" example:"orders.order.7KQ2.placed"`
	Type        string    `json:"type" example:"shopmesh.orders.order.placed.v1"`
	OrderID     string    `json:"orderId,omitempty" doc:"The order it is about, when it is about one."`
	ID          string    `json:"id" doc:"Its CloudEvents id (ce-id)."`
	CausationID string    `json:"causationId,omitempty" doc:"The id of the event or request that caused it."`
	To          []string  `json:"to" doc:"The services it travels to (the edges of GET /console/settings that take it)."`
}

// FeedWatching opens the feed: every event stored after it is sent, after
// the latest few of each stream.
type FeedWatching struct {
	Streams []string `json:"streams" example:"[\"PRODUCTS\",\"INVENTORY\",\"ORDERS\",\"PAYMENTS\"]"`
}

type feedInput struct {
	// Service's enum is the services of the plans (serviceFilter).
	Service string `query:"service" doc:"Only the events this service publishes."`
	Order   string `query:"order" maxLength:"64" doc:"Only the events about this order."`
}

// registerFeed serves the feed to anyone in the demo shop, and to the
// admin elsewhere: it names every order and product, and when each moved.
// Its followers count with those of every stream of changes (followers):
// each has consumers of its own on the server.
func (c *Console) registerFeed(api huma.API, followers *httpapi.Followers, tags []string) {
	security, errs := httpapi.AdminSecurity, []int{http.StatusUnauthorized, http.StatusServiceUnavailable}
	if c.opts.Demo {
		security, errs = nil, []int{http.StatusServiceUnavailable}
	}
	sse.Register(api, huma.Operation{
		OperationID: "watchMesh", Method: http.MethodGet, Path: "/console/events",
		Summary: "Every event of the mesh, live (Server-Sent Events)",
		Description: "First a `watching` event, once every stream is followed; then an `event` for each of the latest " +
			"events of each stream and for every event stored after them, each with the services it travels to. Bodies " +
			"are left out. A client that falls far behind is disconnected rather than slowing anything down; reconnect. " +
			"Open to anyone in the demo shop (shopmesh run --demo); elsewhere it needs the admin token. It counts with " +
			"the other streams of changes: one client address follows at most 16 at once (429 beyond), and the shop at " +
			"most 256 in all (503 beyond), both with a Retry-After.",
		Tags: tags, Security: security, Errors: httpapi.FollowerErrors(errs),
		Middlewares: huma.Middlewares{followers.Admit(api, "console")},
	}, map[string]any{"watching": FeedWatching{}, "event": Event{}}, c.feed)
	c.serviceFilter(api.OpenAPI().Paths["/console/events"].Get)
}

// serviceFilter makes the feed's service parameter take the services of
// the plans the console was given, and no other, so a service added to the
// shop joins the filter without an edit here. Huma validates a parameter
// against the schema it documents, so the enum set there does both.
func (c *Console) serviceFilter(op *huma.Operation) {
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name == "service" {
			p.Schema.Enum = nil
			for _, s := range c.graph.services {
				p.Schema.Enum = append(p.Schema.Enum, s)
			}
			p.Schema.PrecomputeMessages() // the enum's error message
		}
	}
}

// feed follows the streams the input asks for, with an ordered consumer
// of its own on each, until the client leaves or falls behind.
func (c *Console) feed(ctx context.Context, in *feedInput, send sse.Sender) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := c.streamsOf(in.Service)
	events := make(chan Event, c.buffer)
	f := &follower{events: events, drop: cancel, keep: func(e Event) bool { return in.Order == "" || e.OrderID == in.Order }}
	stop, err := c.follow(ctx, streams, f)
	defer stop()
	if err != nil {
		c.opts.Log.Warn().Err(err).Msg("console feed: cannot follow the streams")
		return
	}
	if send.Data(FeedWatching{Streams: streams}) != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return // the client left, or fell behind
		case e := <-events:
			if send.Data(e) != nil {
				return
			}
		}
	}
}

// streamsOf are the streams of service, or of every service.
func (c *Console) streamsOf(service string) []string {
	var out []string
	for stream, s := range c.graph.streams {
		if service == "" || s == service {
			out = append(out, stream)
		}
	}
	slices.Sort(out)
	return out
}

// follower takes the events of a follower's consumers. It never waits:
// when the buffer is full the follower is too slow, and is dropped.
type follower struct {
	events chan Event
	drop   func()
	keep   func(Event) bool
	mu     sync.Mutex
	gone   bool
}

func (f *follower) take(e Event) {
	if !f.keep(e) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return
	}
	select {
	case f.events <- e:
	default:
		f.gone = true
		f.drop()
	}
}

// follow starts an ordered consumer on each stream, from its latest
// backlog events on. stop ends them and deletes them from the server at
// once, not when the server would notice they are idle.
func (c *Console) follow(ctx context.Context, streams []string, f *follower) (stop func(), err error) {
	var running []jetstream.ConsumeContext
	var consumers []jetstream.Consumer
	stop = func() {
		for _, r := range running {
			r.Stop()
		}
		c.deleteConsumers(consumers)
	}
	for _, stream := range streams {
		cons, err := c.orderedConsumer(ctx, stream)
		if err != nil {
			return stop, err
		}
		consumers = append(consumers, cons)
		r, err := cons.Consume(func(m jetstream.Msg) {
			if e, ok := c.event(stream, m); ok {
				f.take(e)
			}
		})
		if err != nil {
			return stop, err
		}
		running = append(running, r)
	}
	return stop, nil
}

// orderedConsumer reads stream from its latest backlog events on. It is
// deleted by the server after a minute with no one reading, should this
// process die before it deletes it.
func (c *Console) orderedConsumer(ctx context.Context, stream string) (jetstream.Consumer, error) {
	s, err := c.opts.JS.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	last := s.CachedInfo().State.LastSeq
	start := uint64(1)
	if last > c.backlog {
		start = last - c.backlog + 1
	}
	return c.opts.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start, InactiveThreshold: time.Minute,
	})
}

// deleteConsumers removes the follower's consumers from the server; its
// request's context is gone by then, so this has its own.
func (c *Console) deleteConsumers(consumers []jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, cons := range consumers {
		info := cons.CachedInfo()
		if info == nil {
			continue
		}
		_ = c.opts.JS.DeleteConsumer(ctx, info.Stream, info.Name)
	}
}

// event reads what the feed shows of a message: a message that is no
// event (a fired timer) is left out.
func (c *Console) event(stream string, m jetstream.Msg) (Event, bool) {
	h := m.Headers()
	if h.Get(mesh.HeaderType) == "" {
		return Event{}, false
	}
	meta, err := m.Metadata()
	if err != nil {
		return Event{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, h.Get(mesh.HeaderTime))
	if err != nil {
		at = meta.Timestamp
	}
	var body struct {
		OrderID string `json:"orderId"`
	}
	_ = json.Unmarshal(m.Data(), &body)
	return Event{
		Time: at, Service: c.graph.streams[stream], Stream: stream, Sequence: meta.Sequence.Stream,
		Subject: m.Subject(), Type: h.Get(mesh.HeaderType), OrderID: body.OrderID,
		ID: h.Get(mesh.HeaderID), CausationID: h.Get(mesh.HeaderCausationID), To: c.graph.receivers(m.Subject()),
	}, true
}
