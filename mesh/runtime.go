package mesh

import (
	"context"
	"fmt"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/observe"
	bolt "go.etcd.io/bbolt"
)

// Runtime is one service's share of a node, from Open to Stop: its NATS
// connection, its bbolt file and KV read model, its projections, its
// reactions and its HTTP operations. A service starts in the order its
// methods come in, and the types keep that order: the Writer comes from
// Project, so nothing writes before its state is projected. Node.Start
// opens it; its Stop stops the service.
type Runtime struct {
	n    *Node
	plan Plan
	// ctx is what the runtime and its service run on; Stop cancels it.
	ctx      context.Context
	cancel   context.CancelFunc
	db       *bolt.DB
	views    *Views
	projs    []*Projection
	dbs      []*bolt.DB // files of its own indexes (OpenDB)
	reactors []*Reactor
	stopped  sync.Once
}

// Open binds the service of plan to what provisioning made for it: its KV
// read model (if the plan has a bucket) and its bbolt file. A node without
// Contracts opens nothing: what the service read would go unchecked.
func (n *Node) Open(ctx context.Context, plan Plan) (*Runtime, error) {
	if n.Contracts == nil {
		return nil, fmt.Errorf("open %s: %w", plan.Service, errNoContracts)
	}
	rt := &Runtime{n: n, plan: plan}
	rt.ctx, rt.cancel = context.WithCancel(ctx)
	if plan.Bucket != "" {
		views, err := n.Bucket(rt.ctx, plan.Service, plan.Bucket)
		if err != nil {
			rt.cancel()
			return nil, err
		}
		rt.views = views
	}
	db, err := n.OpenDB(rt.ctx, plan.Service, plan.Service)
	if err != nil {
		rt.cancel()
		return nil, err
	}
	rt.db = db
	return rt, nil
}

// JetStream is the service's own connection, as its NATS user.
func (rt *Runtime) JetStream() jetstream.JetStream { return rt.n.JetStream(rt.plan.Service) }

// Observer is what the service's handlers report to.
func (rt *Runtime) Observer() observe.Observer { return rt.n.Observer(rt.plan.Service) }

// Admission returns the service's admission control over backlog.
func (rt *Runtime) Admission(backlog func() (int, uint64, error)) *Admission {
	return NewAdmission(rt.plan.Service, backlog, rt.n.Metrics)
}

// Project makes the service's store over its file and read model
// (newStore), starts projecting into it the service's own stream and the
// streams named in reads, and returns the store and the writer of the
// service's own events, which waits for that projection.
func Project[P Projector](ctx context.Context, rt *Runtime, newStore func(*bolt.DB, *Views) (P, error), reads ...string) (P, *Writer, error) {
	st, err := newStore(rt.db, rt.views)
	if err != nil {
		return st, nil, err
	}
	own := rt.plan.Writes.Name
	proj, err := rt.n.Project(ctx, rt.plan.Service, rt.db, append([]string{own}, reads...), st, rt.views)
	if err != nil {
		return st, nil, err
	}
	rt.projs = append(rt.projs, proj)
	return st, NewWriter(rt.n.Publisher(rt.plan.Service), proj, own), nil
}

// OpenDB opens another bbolt file of the service, beside its own, for an
// index kept apart from the state its decisions wait on; Stop closes it.
func (rt *Runtime) OpenDB(name string) (*bolt.DB, error) {
	db, err := rt.n.OpenDB(rt.ctx, rt.plan.Service, name)
	if err == nil {
		rt.dbs = append(rt.dbs, db)
	}
	return db, err
}

// ProjectIndex starts an index projection (Projection.Index) of streams
// into db, which /readyz names name; Stop stops it.
func (rt *Runtime) ProjectIndex(ctx context.Context, name string, db *bolt.DB, p Projector, streams ...string) (*Projection, error) {
	proj, err := rt.n.ProjectIndex(ctx, rt.plan.Service, name, db, streams, p)
	if err == nil {
		rt.projs = append(rt.projs, proj)
	}
	return proj, err
}

// API returns the Huma API of the service's HTTP operations under doc's
// prefix, on the node's server.
func (rt *Runtime) API(doc httpapi.ServiceDoc) huma.API { return rt.n.HTTP.API(doc) }

// Followers bounds the clients that follow the service's streams of
// changes, with every other stream of the process (httpapi.RegisterStream).
func (rt *Runtime) Followers() *httpapi.Followers { return rt.n.HTTP.Followers() }

// CustomerTokens verifies and issues the tokens customers sign in with.
func (rt *Runtime) CustomerTokens() *httpapi.CustomerTokens { return rt.n.HTTP.CustomerTokens() }

// React starts the service's reactions, each on its provisioned durable.
func (rt *Runtime) React(ctx context.Context, reactions ...Reaction) error {
	for _, r := range reactions {
		rc, err := rt.n.React(ctx, rt.plan.Service, r)
		if err != nil {
			return err
		}
		rt.reactors = append(rt.reactors, rc)
	}
	return nil
}

// Context is what the service runs on: Node.Start gives it to the
// service's Start, and Stop cancels it, so what the service starts on it
// (orders' admission sampler) ends with the service.
func (rt *Runtime) Context() context.Context { return rt.ctx }

// Stop stops the service in the one safe order: reactions first (no new
// work), then projections, then what runs on the runtime's context (the
// read model's watch and what the service started), then the files. A
// Runtime only partly started stops what it started; a second Stop does
// nothing.
func (rt *Runtime) Stop() {
	if rt == nil {
		return
	}
	rt.stopped.Do(func() {
		for _, r := range rt.reactors {
			r.Stop()
		}
		for _, p := range rt.projs {
			p.Stop()
		}
		rt.cancel()
		for _, db := range append([]*bolt.DB{rt.db}, rt.dbs...) {
			if db != nil {
				_ = CloseDB(db)
			}
		}
	})
}
