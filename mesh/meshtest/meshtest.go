// Package meshtest starts what tests of the runtime and the services need:
// an embedded JetStream server on a random port with storage in the test's
// temporary directory, and a node to start services on.
package meshtest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/ops"
	"github.com/shopmesh/shopmesh/schemas"
	bolt "go.etcd.io/bbolt"
)

// Server starts an embedded JetStream server that is shut down when the
// test ends.
func Server(t testing.TB) *server.Server {
	t.Helper()
	s, err := ops.StartServer(ops.ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// JetStream connects to s; the connection closes when the test ends.
func JetStream(t testing.TB, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// AdminToken is the admin token of nodes made by Node.
const AdminToken = "test-admin-token"

// Node returns a node on a fresh server with file storage under the test's
// temporary directory and logs sent to the test log.
func Node(t testing.TB) *mesh.Node {
	t.Helper()
	return newNode(t, Logger(t))
}

// newNode returns a node on a fresh server that logs to log.
func newNode(t testing.TB, log zerolog.Logger) *mesh.Node {
	t.Helper()
	js := JetStream(t, Server(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mesh.ProvisionDeadLetters(ctx, js, mesh.Storage{}); err != nil {
		t.Fatal(err)
	}
	return &mesh.Node{
		JS: js, HTTP: httpapi.NewHTTP(observe.Observer{Log: log}, AdminToken), Log: log, DataDir: t.TempDir(),
		Contracts: Contracts(t),
		// Fast retries; an event ahead of its state waits two seconds for
		// it, long enough for a test to publish that state.
		Reactions: mesh.ReactionOptions{Backoff: []time.Duration{10 * time.Millisecond, 50 * time.Millisecond}, AheadFor: 2 * time.Second},
	}
}

// contracts are the shop's contracts, compiled once for every test.
var contracts = sync.OnceValues(schemas.NewContracts)

// Contracts are the contracts a shop's node checks events against (the
// checked-in schemas), as a test's node does too.
func Contracts(t testing.TB) *schemas.Contracts {
	t.Helper()
	c, err := contracts()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Logger writes warnings and errors to the test log.
func Logger(t testing.TB) zerolog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return zerolog.New(w).Level(zerolog.WarnLevel)
}

// testWriter drops lines written after the test ended: background
// goroutines winding down must not fail a finished test.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// Context returns a context that ends with the test or after a minute.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Start provisions svc's plan on n's server, as an operator would, starts
// svc on n and stops it when the test ends.
func Start(t testing.TB, n *mesh.Node, svc mesh.Service) {
	t.Helper()
	if err := mesh.Provision(Context(t), n.JS, n.Storage, n.Reactions, svc.Plan()); err != nil {
		t.Fatal(err)
	}
	rt, err := n.Start(Context(t), svc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
}

// Open provisions plan on n's server, as an operator would, and opens the
// service's runtime on n, stopped when the test ends: for a test that
// drives a service's application without its HTTP API and reactions.
func Open(t testing.TB, n *mesh.Node, plan mesh.Plan) *mesh.Runtime {
	t.Helper()
	if err := mesh.Provision(Context(t), n.JS, n.Storage, n.Reactions, plan); err != nil {
		t.Fatal(err)
	}
	rt, err := n.Open(Context(t), plan)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt
}

// AwaitRedelivered waits until the durable consumer has delivered some
// message again: its handler failed, or asked to see it later.
func AwaitRedelivered(t testing.TB, js jetstream.JetStream, stream, durable string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := js.Consumer(ctx, stream, durable)
		if err != nil {
			t.Fatal(err)
		}
		if c.CachedInfo().NumRedelivered > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never delivered a message again", durable)
		case <-time.After(5 * time.Millisecond): // polling the server's count
		}
	}
}

// DeliverTwice is a mesh.Node's Around that hands every event to its
// handler a second time once the first has succeeded: what a redelivery
// after a lost ack does, every time. A handler that is not idempotent
// shows it at once.
func DeliverTwice(h mesh.Handler) mesh.Handler {
	return func(ctx context.Context, e mesh.Envelope) error {
		if err := h(ctx, e); err != nil {
			return err
		}
		return h(ctx, e)
	}
}

// Eventually retries check until it passes or within is up, then fails the
// test with its last error: for conditions with no single event to await,
// such as a read model catching up or every consumer being idle.
func Eventually(t testing.TB, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // polling a state about to change
	}
}

// causes numbers the causes Publish makes up, so that no two are the same.
var causes atomic.Int64

// Publish writes events as service would, each with a cause of its own: a
// test speaks for the services around the one it tests, or for an earlier,
// interrupted replica of it.
func Publish(t testing.TB, js jetstream.JetStream, service string, evs ...mesh.Event) {
	t.Helper()
	pub := mesh.NewPublisher(js, "shopmesh/"+service, nil)
	for _, e := range evs {
		cause := mesh.Cause{ID: "test-" + strconv.FormatInt(causes.Add(1), 10)}
		if _, err := pub.Publish(Context(t), cause, mesh.Outgoing{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
}

// LocalState opens a service's local state as its store sees it, without
// a projection: a bbolt file under the test's directory, and the views of
// bucket, provisioned on n's server with ttl. For a test of a store alone.
func LocalState(t testing.TB, n *mesh.Node, bucket string, ttl time.Duration) (*bolt.DB, *mesh.Views) {
	t.Helper()
	kv, err := mesh.ProvisionBucket(Context(t), n.JS, n.Storage, bucket, ttl)
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := mesh.OpenDB(filepath.Join(t.TempDir(), bucket+".db"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mesh.CloseDB(db) })
	return db, mesh.NewViews(kv)
}

// Apply applies events to db through p, as a projection would, without
// publishing the views they make: a bucket that has let them go.
func Apply(t testing.TB, db *bolt.DB, p mesh.Projector, evs ...mesh.Event) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		for _, e := range evs {
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			env := mesh.Envelope{Type: e.EventType(), Subject: e.EventSubject(), Data: data, Time: time.Now()}
			if _, err := p.Apply(tx, env); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
