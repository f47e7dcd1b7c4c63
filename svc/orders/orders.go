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
	bolt "go.etcd.io/bbolt"
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
	mesh.Parts
	cfg Config
	// timelineDB and timeline keep the timeline's index, apart from the
	// state the orders' decisions wait on.
	timelineDB *bolt.DB
	timeline   *mesh.Projection
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
		Service: Name, Writes: mesh.StreamSpec(events.OrdersStreamSpec),
		Reads: []mesh.StreamSpec{
			mesh.StreamSpec(events.ProductsStreamSpec), mesh.StreamSpec(events.InventoryStreamSpec), mesh.StreamSpec(events.PaymentsStreamSpec),
		},
		Bucket: bucket, Durables: []mesh.Durable{onInventory, onPayments, onDeadlines},
	}
}

// Start implements mesh.Service.
func (s *Service) Start(ctx context.Context, n *mesh.Node) error {
	views, err := s.Open(ctx, n, Name, bucket)
	if err != nil {
		return err
	}
	st, err := store.New(s.DB, views)
	if err != nil {
		return err
	}
	if err := s.Project(ctx, n, Name, []string{events.OrdersStream, events.ProductsStream}, st, views); err != nil {
		return err
	}
	index, err := s.startTimeline(ctx, n)
	if err != nil {
		return err
	}
	admission := mesh.NewAdmission(Name, st.Backlog, n.Metrics)
	admission.Deadline, admission.Max = s.cfg.TTL, s.cfg.MaxOpen
	go admission.Run(ctx)
	a := app.New(app.Deps{
		Store: st, Writer: mesh.NewWriter(n.Publisher(Name), s.Proj, events.OrdersStream), Proj: s.Proj,
		Timers: store.NewTimers(n.JetStream(Name)), Timeline: store.NewTimeline(n.JetStream(Name), index, s.timeline.CatchUpAll), Admission: admission, TTL: s.cfg.TTL, Now: time.Now,
	}, n.Observer(Name))
	api.Register(n.HTTP.API(httpapi.ServiceDoc{
		Prefix: "/orders", Title: "ShopMesh orders", Problems: api.Problems,
		Description: "Place, follow and cancel orders; see every event of an order on its timeline.",
	}), a, n.HTTP.CustomerTokens())
	return s.React(ctx, n, Name,
		mesh.Reaction{Durable: onInventory, Handle: a.OnInventory},
		mesh.Reaction{Durable: onPayments, Handle: a.OnPayment},
		mesh.Reaction{Durable: onDeadlines, Handle: a.OnDeadline},
	)
}

// startTimeline projects every event of the saga into the timeline's index,
// in a file of its own.
func (s *Service) startTimeline(ctx context.Context, n *mesh.Node) (*store.TimelineIndex, error) {
	var err error
	if s.timelineDB, err = n.OpenDB(TimelineFile); err != nil {
		return nil, err
	}
	index, err := store.NewTimelineIndex(s.timelineDB)
	if err != nil {
		return nil, err
	}
	s.timeline, err = n.ProjectIndex(ctx, Name, TimelineFile+" projection", s.timelineDB, store.TimelineStreams, index)
	return index, err
}

// TimelineFile names the timeline index's bbolt file, beside the service's
// own (shopmesh rebuild orders removes both).
const TimelineFile = "orders-timeline"

// Stop implements mesh.Service: the service's parts, then the timeline.
func (s *Service) Stop() {
	s.Parts.Stop()
	if s.timeline != nil {
		s.timeline.Stop()
	}
	if s.timelineDB != nil {
		_ = mesh.CloseDB(s.timelineDB)
	}
}
