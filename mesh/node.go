package mesh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/observe"
	bolt "go.etcd.io/bbolt"
)

// Node is everything a service stands on in one process: the JetStream
// connection, where local state lives, the shared HTTP server, logging and
// metrics. Services receive it in Start and own nothing global.
type Node struct {
	// Conns are each service's own connection, as its own NATS user, so
	// that it may do only what its Plan says. JS serves a service without
	// one (tests, or a server without users).
	Conns     map[string]jetstream.JetStream
	JS        jetstream.JetStream
	HTTP      *httpapi.HTTP
	Metrics   *observe.Metrics
	Tracing   *observe.Tracing
	Log       zerolog.Logger
	Storage   Storage
	DataDir   string
	Reactions ReactionOptions
	// SnapshotMin is the fewest events a projection applies between two
	// snapshots of its file; 0 is DefaultSnapshotMin.
	SnapshotMin uint64
	// Around, when set, wraps the handler of every reaction started on the
	// node: tests deliver each event twice with it, to prove that every
	// handler is idempotent (meshtest.DeliverTwice).
	Around func(Handler) Handler
	// Contracts checks every event a projection or a reaction of the node
	// reads before it is applied or handled; one that breaks its contract
	// is set aside. A node without it starts no service.
	Contracts Contracts
}

// JetStream is service's connection.
func (n *Node) JetStream(service string) jetstream.JetStream {
	if js, ok := n.Conns[service]; ok {
		return js
	}
	return n.JS
}

// Logger returns the node's logger with the service's name on every line.
func (n *Node) Logger(service string) zerolog.Logger {
	return n.Log.With().Str("service", service).Logger()
}

// Observer returns what service's pipeline behaviours report to.
func (n *Node) Observer(service string) observe.Observer {
	return observe.Observer{Log: n.Logger(service), Metrics: n.Metrics, Tracing: n.Tracing}
}

// Publisher returns a publisher for service's events; while its writes
// fail (the store is full, or out of file descriptors), /readyz says so.
func (n *Node) Publisher(service string) *Publisher {
	p := NewPublisher(n.JetStream(service), "shopmesh/"+service, n.Metrics)
	n.HTTP.ReadyCheck(service+" writes", p.Healthy)
	return p
}

// DBPath is where service keeps its bbolt file.
func (n *Node) DBPath(service string) string {
	return filepath.Join(n.DataDir, service+".db")
}

// OpenDB opens the bbolt file name of service, flushing every commit only
// when the node's storage is durable. Where there is no file (a new
// replica, or a lost file), or only one torn by a machine that stopped
// (OpenDB), it restores the latest snapshot of it, if there is one that
// fits the streams; otherwise the file is built from the streams.
func (n *Node) OpenDB(ctx context.Context, service, name string) (*bolt.DB, error) {
	path := n.DBPath(name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		n.restore(ctx, service, path)
	}
	db, dropped, err := OpenDB(path, n.Storage.Sync)
	if !dropped || err != nil {
		return db, err
	}
	log := n.Logger(service)
	log.Warn().Str("path", path).
		Msg("local state was left open by a machine that stopped; restoring its snapshot, or rebuilding it from the streams")
	// OpenDB made a new, empty file in place of the torn one: the latest
	// snapshot is worth more than it.
	if err := CloseDB(db); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil {
		return nil, err
	}
	n.restore(ctx, service, path)
	db, _, err = OpenDB(path, n.Storage.Sync)
	return db, err
}

// restore writes the latest snapshot of the file at path there. A
// snapshot that cannot be had, or is refused, is logged: the file is then
// built from the streams, which is slower but the same.
func (n *Node) restore(ctx context.Context, service, path string) {
	snaps := n.snapshots(service)
	if snaps == nil {
		return
	}
	// A marker left without its file would have the restored file taken
	// for a torn one (OpenDB).
	if err := os.Remove(markerPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
	log := n.Logger(service).With().Str("snapshot", snapshotName(path)).Logger()
	start := time.Now()
	restored, err := snaps.Restore(ctx, snapshotName(path), path)
	switch {
	case err != nil:
		log.Warn().Err(err).Msg("snapshot not restored; building the local state from the streams")
	case restored:
		n.Metrics.ObserveSnapshot(service, "restored")
		log.Info().Float64("took_ms", observe.Millis(time.Since(start))).
			Msg("local state restored from its snapshot; replaying only what came after it")
	}
}

// snapshots is service's snapshot bucket, or nil: a shop in memory has
// none.
func (n *Node) snapshots(service string) *Snapshots {
	if n.Storage.Memory {
		return nil
	}
	return &Snapshots{JS: n.JetStream(service), Bucket: SnapshotBucket(service)}
}

// React starts a reaction of service with the node's delivery options; a
// message it keeps failing on shows in /readyz.
func (n *Node) React(ctx context.Context, service string, r Reaction) (*Reactor, error) {
	if n.Contracts == nil {
		return nil, fmt.Errorf("reaction %s: %w", r.Name, errNoContracts)
	}
	if n.Around != nil {
		r.Handle = n.Around(r.Handle)
	}
	r.Handle = checkedHandler(n.Contracts, r.Handle)
	rc, err := StartReaction(ctx, n.JetStream(service), service, r, n.Reactions, n.Observer(service))
	if err != nil {
		return nil, err
	}
	n.HTTP.ReadyNote(r.Name, func() string {
		_, note := rc.Stuck()
		return note
	})
	return rc, nil
}

// Bucket binds service's provisioned KV read model and starts its
// in-memory cache.
func (n *Node) Bucket(ctx context.Context, service, name string) (*Views, error) {
	kv, err := untilAnswered(ctx, func(try context.Context) (jetstream.KeyValue, error) {
		return n.JetStream(service).KeyValue(try, name)
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s (is the mesh provisioned?): %w", name, err)
	}
	status, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	v := NewViews(kv)
	v.TTL = status.TTL()
	if err := v.Watch(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// Service is one ShopMesh service as the runner sees it.
type Service interface {
	// Name is the service's name: its subjects' first token and its prefix.
	Name() string
	// Plan is what it does on NATS: what provisioning creates for it, and
	// all its NATS user may do.
	Plan() Plan
	// Start wires the service on its runtime: projects its state (which
	// gives it its writer), registers its HTTP operations and starts its
	// reactions, and returns once it is serving. The runtime stops it; ctx
	// is the runtime's own, which ends when it stops.
	Start(ctx context.Context, rt *Runtime) error
}

// Start opens svc's runtime and starts svc on it, on the runtime's
// context; the caller stops it with the runtime's Stop. A service that fails to start is stopped again.
func (n *Node) Start(ctx context.Context, svc Service) (*Runtime, error) {
	rt, err := n.Open(ctx, svc.Plan())
	if err != nil {
		return nil, err
	}
	if err := svc.Start(rt.Context(), rt); err != nil {
		rt.Stop()
		return nil, err
	}
	return rt, nil
}

// Project starts a projection of streams into db through p, publishing
// views (which may be nil), and adds it to the node's readiness checks.
// An event that breaks its contract is set aside before p sees it.
func (n *Node) Project(ctx context.Context, service string, db *bolt.DB, streams []string, p Projector, views *Views) (*Projection, error) {
	return n.project(ctx, service, service+" projection", NewProjection(db, n.JetStream(service), streams, p, views, n.Logger(service)))
}

// ProjectIndex starts an index projection (Projection.Index) of service,
// with no views, which /readyz names name. An index is held to the
// contracts too: it applies no event that breaks one.
func (n *Node) ProjectIndex(ctx context.Context, service, name string, db *bolt.DB, streams []string, p Projector) (*Projection, error) {
	proj := NewProjection(db, n.JetStream(service), streams, p, nil, n.Logger(service))
	proj.Index = true
	return n.project(ctx, service, name, proj)
}

func (n *Node) project(ctx context.Context, service, name string, proj *Projection) (*Projection, error) {
	if n.Contracts == nil {
		return nil, fmt.Errorf("%s: %w", name, errNoContracts)
	}
	proj.projector = checkedProjector{contracts: n.Contracts, p: proj.projector}
	proj.service, proj.metrics = service, n.Metrics
	proj.snapshots = n.snapshots(service)
	proj.SnapshotMin = n.SnapshotMin
	if err := proj.Start(ctx); err != nil {
		return nil, err
	}
	n.HTTP.ReadyCheck(name, proj.Problem)
	return proj, nil
}
