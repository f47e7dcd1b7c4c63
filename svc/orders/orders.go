// Package orders is the orders service: it places orders priced from its
// own replica of the catalog and follows each one, through inventory's and
// payments' events, to a terminal status.
package orders

import (
	"context"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/orders/api"
	"github.com/shopmesh/shopmesh/svc/orders/app"
	"github.com/shopmesh/shopmesh/svc/orders/store"
)

// Name is the service's name.
const Name = events.OrdersService

// Config tunes the orders service.
type Config struct {
	// TTL is how long an order waits for payment before it expires.
	TTL time.Duration
	// MaxOpen, when above 0, caps the orders in their saga; 0 lets the
	// cap follow what ends within the TTL (mesh.Admission).
	MaxOpen int
}

// Service is the running orders service.
type Service struct {
	cfg Config
}

// New returns the orders service, ready to Start.
func New(cfg Config) *Service { return &Service{cfg: cfg} }

// Name implements mesh.Service.
func (s *Service) Name() string { return Name }

// The reactions of orders: to inventory's answers, to payments' outcomes
// and to its own deadlines.
var (
	onInventory = mesh.Durable{Name: "orders-on-inventory", Stream: events.InventoryStream, Subjects: app.InventoryEvents}
	onPayments  = mesh.Durable{Name: "orders-on-payments", Stream: events.PaymentsStream, Subjects: app.PaymentEvents}
	onDeadlines = mesh.Durable{Name: "orders-timers", Stream: events.OrdersStream, Subjects: app.DeadlineEvents}
)

// bucket holds the orders' read model.
const bucket = "orders"

// Plan implements mesh.Service: orders reads every other stream, for its
// reactions, its catalog replica and the timeline.
func (s *Service) Plan() mesh.Plan {
	return mesh.Plan{
		Service: Name, Writes: mesh.StreamSpec(events.OrdersStreamSpec), Reads: othersStreams(),
		Bucket: bucket, BucketTTL: mesh.RecentViews, Durables: []mesh.Durable{onInventory, onPayments, onDeadlines},
	}
}

// othersStreams are the streams of every service but orders.
func othersStreams() []mesh.StreamSpec {
	var specs []mesh.StreamSpec
	for _, s := range events.Streams {
		if s.Name != events.OrdersStream {
			specs = append(specs, mesh.StreamSpec(s))
		}
	}
	return specs
}

// Start implements mesh.Service.
func (s *Service) Start(ctx context.Context, rt *mesh.Runtime) error {
	st, w, err := mesh.Project(ctx, rt, store.New, events.ProductsStream)
	if err != nil {
		return err
	}
	timeline, err := startTimeline(ctx, rt)
	if err != nil {
		return err
	}
	admission := rt.Admission(st.Backlog)
	admission.Deadline, admission.Max = s.cfg.TTL, s.cfg.MaxOpen
	go admission.Run(ctx)
	a := app.New(app.Deps{
		Orders: st, Views: st, Writer: w, Timers: store.NewTimers(rt.JetStream()), Timeline: timeline,
		Admission: admission, TTL: s.cfg.TTL, Now: time.Now,
	}, rt.Observer())
	api.Register(rt.API(httpapi.ServiceDoc{
		Prefix: "/orders", Title: "ShopMesh orders", Problems: api.Problems,
		Description: "Place, follow and cancel orders; see every event of an order on its timeline.",
	}), a, rt.CustomerTokens(), rt.Followers(), rt.Observer().Log)
	return rt.React(ctx,
		mesh.Reaction{Durable: onInventory, Handle: a.OnInventory},
		mesh.Reaction{Durable: onPayments, Handle: a.OnPayment},
		mesh.Reaction{Durable: onDeadlines, Handle: a.OnDeadline},
	)
}

// startTimeline projects every event of the saga into the timeline's index,
// in a file of its own, apart from the state the orders' decisions wait on.
func startTimeline(ctx context.Context, rt *mesh.Runtime) (*store.Timeline, error) {
	db, err := rt.OpenDB(TimelineFile)
	if err != nil {
		return nil, err
	}
	index, err := store.NewTimelineIndex(db)
	if err != nil {
		return nil, err
	}
	proj, err := rt.ProjectIndex(ctx, TimelineFile+" projection", db, index, store.TimelineStreams()...)
	if err != nil {
		return nil, err
	}
	return store.NewTimeline(rt.JetStream(), index, proj.CatchUpAll), nil
}

// TimelineFile names the timeline index's bbolt file, beside the service's
// own (shopmesh rebuild orders empties both).
const TimelineFile = "orders-timeline"
