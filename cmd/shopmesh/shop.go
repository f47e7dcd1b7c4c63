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
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/svc/inventory"
	"github.com/shopmesh/shopmesh/svc/orders"
	"github.com/shopmesh/shopmesh/svc/payments"
	"github.com/shopmesh/shopmesh/svc/payments/gateway"
	"github.com/shopmesh/shopmesh/svc/products"
)

// allServices lists every service once, in start order: a service starts
// after those whose events it projects, so its first catch-up is short.
func allServices(c config) []mesh.Service {
	return []mesh.Service{
		products.New(),
		inventory.New(),
		orders.New(orders.Config{TTL: c.OrderTTL, MaxOpen: c.MaxOpenOrders}),
		payments.New(gateway.New(gateway.Options{Latency: c.GatewayLatency, FailureRate: c.GatewayFailureRate})),
	}
}

// shop is one running process: maybe an embedded NATS server, the node the
// services share, the services and the HTTP server.
type shop struct {
	cfg      config
	log      zerolog.Logger
	server   *server.Server
	nc       *nats.Conn
	node     *mesh.Node
	services []mesh.Service
	http     *http.Server
	tracing  *mesh.Tracing
	cancel   context.CancelFunc
	httpURL  string
	natsURL  string
	tempDirs []string
}

// startShop starts everything cfg asks for and returns once it serves HTTP.
// On error, whatever had started is stopped again.
func startShop(ctx context.Context, cfg config, log zerolog.Logger) (*shop, error) {
	s := &shop{cfg: cfg, log: log}
	// Watches and consumers live on this context until close ends them.
	ctx, s.cancel = context.WithCancel(ctx)
	steps := []func(context.Context) error{s.startNATS, s.connect, s.startServices, s.serveHTTP}
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

func (s *shop) startNATS(context.Context) error {
	if s.cfg.NATSURL != "" {
		s.natsURL = s.cfg.NATSURL
		return nil
	}
	dir, err := s.dataDir("jetstream")
	if err != nil {
		return err
	}
	s.server, err = mesh.StartServer(mesh.ServerOptions{
		Addr: s.cfg.NATSAddr, MonitorAddr: s.cfg.NATSMonitorAddr, StoreDir: dir, ConfigFile: s.cfg.NATSConfig,
		SyncAlways: s.cfg.syncAlways(),
	})
	if err != nil {
		return err
	}
	s.natsURL = s.server.ClientURL()
	return nil
}

func (s *shop) connect(ctx context.Context) error {
	var opts []nats.Option
	if s.server != nil {
		opts = append(opts, nats.InProcessServer(s.server))
	}
	var err error
	if s.nc, err = mesh.Connect(s.natsURL, "shopmesh", opts...); err != nil {
		return err
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return err
	}
	storage := mesh.Storage{Memory: s.cfg.Ephemeral, Replicas: s.cfg.StreamReplicas, Sync: s.cfg.syncAlways()}
	if err := mesh.ProvisionDeadLetters(ctx, js, storage); err != nil {
		return err
	}
	dir, err := s.dataDir("state")
	if err != nil {
		return err
	}
	s.tracing, err = s.newTracing(ctx)
	if err != nil {
		return err
	}
	obs := mesh.Observer{Log: s.log, Metrics: mesh.NewMetrics(), Tracing: s.tracing}
	s.node = &mesh.Node{
		JS: js, HTTP: mesh.NewHTTP(obs, s.cfg.AdminToken), Metrics: obs.Metrics, Tracing: obs.Tracing,
		Log: s.log, Storage: storage, DataDir: dir, Reactions: s.cfg.reactions,
	}
	s.node.HTTP.ReadyCheck("nats", func() error {
		if st := s.nc.Status(); st != nats.CONNECTED {
			return fmt.Errorf("connection %s", st)
		}
		return nil
	})
	return nil
}

func (s *shop) newTracing(ctx context.Context) (*mesh.Tracing, error) {
	name := "shopmesh"
	if len(s.cfg.Services) == 1 {
		name = "shopmesh-" + s.cfg.Services[0]
	}
	if s.cfg.spans != nil {
		return mesh.NewTracing(ctx, name, s.cfg.OTLPEndpoint, s.cfg.spans)
	}
	return mesh.NewTracing(ctx, name, s.cfg.OTLPEndpoint)
}

func (s *shop) startServices(ctx context.Context) error {
	chosen, err := selectServices(allServices(s.cfg), s.cfg.Services)
	if err != nil {
		return err
	}
	for _, svc := range chosen {
		if err := svc.Start(ctx, s.node); err != nil {
			return fmt.Errorf("start %s: %w", svc.Name(), err)
		}
		s.services = append(s.services, svc)
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
		if capacity, err = mesh.ConnectionCap(); err != nil {
			_ = ln.Close()
			return err
		}
	}
	ln = mesh.LimitListener(ln, capacity)
	// Requests live on a context that shutdown cancels, so streams of
	// changes (Server-Sent Events) end instead of holding shutdown up.
	base, cancel := context.WithCancel(context.Background())
	// Timeouts close what a slow or idle client holds. A stream of changes
	// outlives WriteTimeout: each event it sends sets a deadline of its own.
	s.http = &http.Server{
		Handler: s.node.HTTP.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		BaseContext: func(net.Listener) context.Context { return base },
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
	if s.nc != nil {
		_ = s.nc.Drain()
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
