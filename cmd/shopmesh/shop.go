package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/ops"
	"github.com/shopmesh/shopmesh/schemas"
	"github.com/shopmesh/shopmesh/svc/inventory"
	"github.com/shopmesh/shopmesh/svc/orders"
	"github.com/shopmesh/shopmesh/svc/payments"
	"github.com/shopmesh/shopmesh/svc/payments/gateway"
	"github.com/shopmesh/shopmesh/svc/products"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// allServices lists every service once, in start order: a service starts
// after those whose events it projects, so its first catch-up is short.
func allServices(c config) []mesh.Service {
	return []mesh.Service{
		products.New(),
		inventory.New(),
		orders.New(orders.Config{TTL: c.OrderTTL, MaxOpen: c.MaxOpenOrders}),
		payments.New(gateway.New(gateway.Options{Latency: c.GatewayLatency, FailureRate: c.GatewayFailureRate, Slow: c.SlowGateway})),
	}
}

// tuning is what a test changes of a shop beyond what its config (flags
// and environment) says, each through an option: quicker retries, every
// event delivered twice, spans recorded.
type tuning struct {
	reactions mesh.ReactionOptions
	around    func(mesh.Handler) mesh.Handler
	spans     sdktrace.SpanProcessor
	// snapshotMin is the node's SnapshotMin: tests take snapshots after a
	// few events.
	snapshotMin uint64
	// archiveEvery, archiveAfter and archiveOverlap tune the archiver:
	// tests archive at once.
	archiveEvery, archiveAfter, archiveOverlap time.Duration
}

// An option tunes a shop; tests have them (options_test.go).
type option func(*tuning)

// shop is one running process: maybe an embedded NATS server, the node the
// services share, the services and the HTTP server.
type shop struct {
	cfg      config
	tuning   tuning
	log      zerolog.Logger
	server   *server.Server
	guard    *ops.StorageGuard
	guarding sync.WaitGroup
	creds    natsauth.Credentials
	conns    []*nats.Conn
	node     *mesh.Node
	services []*mesh.Runtime
	http     *http.Server
	tracing  *observe.Tracing
	cancel   context.CancelFunc
	httpURL  string
	natsURL  string
	tempDirs []string
}

// startShop starts everything cfg asks for and returns once it serves HTTP.
// On error, whatever had started is stopped again.
func startShop(ctx context.Context, cfg config, log zerolog.Logger, opts ...option) (*shop, error) {
	s := &shop{cfg: cfg, log: log}
	for _, o := range opts {
		o(&s.tuning)
	}
	// Watches and consumers live on this context until close ends them.
	ctx, s.cancel = context.WithCancel(ctx)
	steps := []func(context.Context) error{s.startNATS, s.provision, s.connect, s.startServices, s.startConsole, s.startArchiver, s.serveHTTP, s.seedDemo}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

func (s *shop) dataDir(sub string) (string, error) {
	if !s.cfg.Ephemeral {
		return filepath.Join(s.cfg.Data, sub), nil
	}
	dir, err := os.MkdirTemp("", "shopmesh-"+sub+"-")
	if err != nil {
		return "", err
	}
	s.tempDirs = append(s.tempDirs, dir)
	return dir, nil
}

// startNATS starts the embedded server, whose users are the services and
// the operator, each allowed only what its plan says. Without a
// configuration file their passwords are made up now and the operator's
// is left in a nats CLI context; with one, they come from the environment,
// as for an external server.
func (s *shop) startNATS(ctx context.Context) error {
	var err error
	if s.cfg.NATSURL != "" {
		s.natsURL = s.cfg.NATSURL
		s.creds, err = natsauth.FromEnv(serviceNames(s.cfg))
		return err
	}
	plans := allPlans(s.cfg)
	opts := ops.ServerOptions{
		Addr: s.cfg.NATSAddr, MonitorAddr: s.cfg.NATSMonitorAddr, ConfigFile: s.cfg.NATSConfig,
		SyncAlways: s.cfg.syncAlways(),
	}
	if s.cfg.NATSConfig != "" {
		s.creds, err = natsauth.FromEnv(natsauth.UserNames(plans))
	} else {
		s.creds = natsauth.Generate(natsauth.UserNames(plans))
		opts.Users = natsauth.Users(plans, s.creds)
	}
	if err != nil {
		return err
	}
	if opts.StoreDir, err = s.dataDir("jetstream"); err != nil {
		return err
	}
	if s.server, err = ops.StartServer(opts); err != nil {
		return err
	}
	s.natsURL = s.server.ClientURL()
	if err := s.guardStorage(ctx, opts); err != nil {
		return err
	}
	return s.writeNATSContext()
}

// guardStorage starts JetStream again, in the embedded server, when a disk
// that filled has room again (ops.StorageGuard); /readyz says why the shop
// cannot write meanwhile. An ephemeral shop keeps its streams in memory,
// which a restart of JetStream would lose, and nothing on disk to guard.
func (s *shop) guardStorage(ctx context.Context, opts ops.ServerOptions) error {
	if s.cfg.Ephemeral {
		return nil
	}
	var err error
	if s.guard, err = ops.NewStorageGuard(s.server, opts, s.log); err != nil {
		return err
	}
	s.guarding.Go(func() { s.guard.Run(ctx) })
	return nil
}

// writeNATSContext leaves the operator's way in where the nats CLI and
// the shopmesh tools look for it.
func (s *shop) writeNATSContext() error {
	if s.cfg.NATSContext == "" {
		return nil
	}
	path, err := natsauth.WriteContext(s.cfg.NATSContext, natsauth.Context{
		Description: "the shopmesh run started " + time.Now().Format(time.RFC3339) + " (operator user)",
		URL:         s.natsURL, User: natsauth.Admin, Password: s.creds[natsauth.Admin],
	})
	if err != nil {
		return err
	}
	s.log.Debug().Str("path", path).Msg("nats CLI context written")
	return nil
}

// storage is where streams, buckets and local state are kept.
func (s *shop) storage() mesh.Storage {
	return mesh.Storage{Memory: s.cfg.Ephemeral, Replicas: s.cfg.StreamReplicas, Sync: s.cfg.syncAlways()}
}

// provision creates every service's streams, buckets and consumers as the
// operator, once, before any service starts. Against an external server
// that is the operator's separate step (shopmesh provision).
func (s *shop) provision(ctx context.Context) error {
	if s.server == nil {
		return nil
	}
	nc, err := s.dial("shopmesh-provision", natsauth.Admin)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return mesh.Provision(ctx, js, s.storage(), s.tuning.reactions, allPlans(s.cfg)...)
}

// startArchiver moves the streams' history to their archives, as the
// operator, every minute (ADR 25). Against an external server that is the
// operator's job (shopmesh archive).
func (s *shop) startArchiver(ctx context.Context) error {
	if s.server == nil || s.cfg.ArchiveAfter == 0 {
		return nil
	}
	js, err := s.operator("shopmesh-archive")
	if err != nil {
		return err
	}
	a := &ops.Archiver{JS: js, After: s.cfg.ArchiveAfter, Overlap: ops.DefaultArchiveOverlap, Log: s.log.With().Str("service", "archive").Logger()}
	every := time.Minute
	if s.tuning.archiveEvery > 0 {
		every, a.After, a.Overlap = s.tuning.archiveEvery, s.tuning.archiveAfter, s.tuning.archiveOverlap
	}
	s.guarding.Go(func() { a.Run(ctx, archivedStreams(allPlans(s.cfg)), every) })
	return nil
}

// archivedStreams are the streams of plans that have an archive.
func archivedStreams(plans []mesh.Plan) []string {
	var names []string
	for _, p := range plans {
		if p.Writes.Archive {
			names = append(names, p.Writes.Name)
		}
	}
	return names
}

// operator connects as the operator, under name, until the shop closes.
func (s *shop) operator(name string) (jetstream.JetStream, error) {
	nc, err := s.dial(name, natsauth.Admin)
	if err != nil {
		return nil, err
	}
	s.conns = append(s.conns, nc)
	return jetstream.New(nc)
}

// dial connects as user, in process when the server is embedded.
func (s *shop) dial(name, user string) (*nats.Conn, error) {
	opts := natsauth.Options(user, s.creds)
	if s.server != nil {
		opts = append(opts, nats.InProcessServer(s.server))
	}
	return ops.Connect(s.natsURL, name, opts...)
}

// connect gives each service a connection of its own, as its own user.
func (s *shop) connect(ctx context.Context) error {
	chosen, err := selectServices(allServices(s.cfg), s.cfg.Services)
	if err != nil {
		return err
	}
	conns := map[string]jetstream.JetStream{}
	for _, svc := range chosen {
		nc, err := s.dial("shopmesh-"+svc.Name(), svc.Name())
		if err != nil {
			return err
		}
		s.conns = append(s.conns, nc)
		if conns[svc.Name()], err = jetstream.New(nc); err != nil {
			return err
		}
	}
	dir, err := s.dataDir("state")
	if err != nil {
		return err
	}
	s.tracing, err = s.newTracing(ctx)
	if err != nil {
		return err
	}
	// Every event the services read is held to its schema (ADR 12).
	contracts, err := schemas.NewContracts()
	if err != nil {
		return err
	}
	obs := observe.Observer{Log: s.log, Metrics: observe.NewMetrics(), Tracing: s.tracing}
	s.node = &mesh.Node{
		Conns: conns, HTTP: httpapi.NewHTTP(obs, s.cfg.AdminToken), Metrics: obs.Metrics, Tracing: obs.Tracing,
		Log: s.log, Storage: s.storage(), DataDir: dir, Reactions: s.tuning.reactions, Around: s.tuning.around,
		SnapshotMin: s.tuning.snapshotMin, Contracts: contracts,
	}
	trusted, _ := s.cfg.trustedProxies() // checked by parseConfig
	s.node.HTTP.Followers().Bound(s.cfg.FollowersPerAddress, s.cfg.MaxFollowers, trusted)
	doc, err := asyncAPI(s.cfg)
	if err != nil {
		return err
	}
	s.node.HTTP.AsyncAPI(doc)
	if s.guard != nil {
		s.node.HTTP.ReadyCheck("jetstream storage", s.guard.Problem)
	}
	s.node.HTTP.ReadyCheck("nats", func() error {
		for _, nc := range s.conns {
			if st := nc.Status(); st != nats.CONNECTED {
				return fmt.Errorf("connection %s %s", nc.Opts.Name, st)
			}
			// A server cut off from the network looks connected until the
			// client's pings go unanswered; a round trip tells at once, so
			// a load balancer stops sending requests that would hang.
			if err := nc.FlushTimeout(time.Second); err != nil {
				return fmt.Errorf("connection %s: its server does not answer (%w)", nc.Opts.Name, err)
			}
		}
		return nil
	})
	return nil
}

// serviceNames are the names of the services this process runs.
func serviceNames(c config) []string {
	chosen, _ := selectServices(allServices(c), c.Services) // checked by parseConfig
	names := make([]string, len(chosen))
	for i, svc := range chosen {
		names[i] = svc.Name()
	}
	return names
}

// allPlans are the plans of every service, which the server's users are
// made from even when this process runs only some of them.
func allPlans(c config) []mesh.Plan {
	var plans []mesh.Plan
	for _, svc := range allServices(c) {
		plans = append(plans, svc.Plan())
	}
	return plans
}

func (s *shop) newTracing(ctx context.Context) (*observe.Tracing, error) {
	name := "shopmesh"
	if len(s.cfg.Services) == 1 {
		name = "shopmesh-" + s.cfg.Services[0]
	}
	if s.tuning.spans != nil {
		return observe.NewTracing(ctx, name, s.cfg.OTLPEndpoint, s.tuning.spans)
	}
	return observe.NewTracing(ctx, name, s.cfg.OTLPEndpoint)
}

func (s *shop) startServices(ctx context.Context) error {
	chosen, err := selectServices(allServices(s.cfg), s.cfg.Services)
	if err != nil {
		return err
	}
	for _, svc := range chosen {
		rt, err := s.node.Start(ctx, svc)
		if err != nil {
			return fmt.Errorf("start %s: %w", svc.Name(), err)
		}
		s.services = append(s.services, rt)
	}
	return nil
}

// selectServices keeps the named services, in start order.
func selectServices(all []mesh.Service, names []string) ([]mesh.Service, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []mesh.Service
	known := make([]string, 0, len(all))
	for _, svc := range all {
		known = append(known, svc.Name())
		if slices.Contains(names, svc.Name()) {
			out = append(out, svc)
		}
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("no service %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

func (s *shop) serveHTTP(context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	s.httpURL = "http://" + ln.Addr().String()
	capacity := s.cfg.MaxConnections
	if capacity == 0 {
		if capacity, err = httpapi.ConnectionCap(); err != nil {
			_ = ln.Close()
			return err
		}
	}
	ln = httpapi.LimitListener(ln, capacity)
	// Requests live on a context that shutdown cancels, so streams of
	// changes (Server-Sent Events) end instead of holding shutdown up.
	base, cancel := context.WithCancel(context.Background())
	// Timeouts close what a slow or idle client holds. A stream of changes
	// outlives WriteTimeout: each event it sends sets a deadline of its own.
	s.http = &http.Server{
		Handler: s.node.HTTP.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		BaseContext: func(net.Listener) context.Context { return base },
		ConnContext: httpapi.ConnContext,
	}
	s.http.RegisterOnShutdown(cancel)
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("http server stopped")
		}
	}()
	return nil
}

// close stops in reverse order: no new requests, services drain their
// consumers and close their files, then NATS.
func (s *shop) close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
	}
	for i := len(s.services) - 1; i >= 0; i-- {
		s.services[i].Stop()
	}
	s.cancel()
	s.guarding.Wait() // no restart of JetStream, no archive round, while the server stops
	for _, nc := range s.conns {
		_ = nc.Drain()
	}
	_ = s.tracing.Shutdown(context.Background())
	if s.server != nil {
		s.server.Shutdown()
		s.server.WaitForShutdown()
	}
	for _, dir := range s.tempDirs {
		_ = os.RemoveAll(dir)
	}
}
