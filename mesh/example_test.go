package mesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/mesh/ops"
	bolt "go.etcd.io/bbolt"
)

// This file is the contract a service author reads: a whole service in a
// page, a poll that counts votes. Every ShopMesh service has the same
// parts, only more of them.

// voted is the service's one event. Its subject has four tokens,
// <service>.<entity>.<id>.<event>: the runtime guards writes per entity,
// the first three.
type voted struct {
	Poll  string `json:"poll"`
	Voter string `json:"voter"`
	Total int    `json:"total"`
}

func (e voted) EventSubject() string { return "polls.poll." + e.Poll + ".voted" }
func (voted) EventType() string      { return "example.polls.poll.voted.v1" }

// pollContracts is what a reader may rely on in each event of the
// service: the runtime checks every event against it before any
// projector or handler sees it, and sets aside one that breaks it.
// (ShopMesh's contracts are its JSON Schemas: schemas.NewContracts.)
var pollContracts = mesh.ContractFunc(func(eventType string, body []byte) error {
	if eventType != (voted{}).EventType() {
		return nil // not the service's: skipped by its readers
	}
	var ev voted
	if err := json.Unmarshal(body, &ev); err != nil {
		return err
	}
	if ev.Poll == "" || ev.Voter == "" {
		return errors.New("a vote names its poll and its voter")
	}
	return nil
})

var bucketTotals = []byte("totals")

// totals is the service's store, and its projector. The runtime hands it
// every event of the streams it projects, in order, each once, inside the
// bbolt transaction that also records how far it got: Apply must only
// change that transaction, so that a crash never applies an event twice.
// The views it returns are published to the service's read model (a KV
// bucket) after the commit.
type totals struct {
	db    *bolt.DB
	views *mesh.Views
}

func newTotals(db *bolt.DB, views *mesh.Views) (*totals, error) {
	return &totals{db: db, views: views}, nil
}

func (*totals) Apply(tx *bolt.Tx, e mesh.Envelope) ([]mesh.View, error) {
	var ev voted
	if err := e.Decode(&ev); err != nil {
		return nil, err
	}
	b, err := tx.CreateBucketIfNotExists(bucketTotals)
	if err != nil {
		return nil, err
	}
	if err := b.Put([]byte(ev.Poll), []byte(strconv.Itoa(ev.Total))); err != nil {
		return nil, err
	}
	if err := b.Put([]byte(ev.Poll+"/"+ev.Voter), []byte{1}); err != nil {
		return nil, err
	}
	return []mesh.View{{Key: ev.Poll, Value: ev.Total}}, nil
}

// pollSnapshot is what a decision reads: the state, and where its entity
// stood (mesh.Positions, read in the same transaction). Embedding the
// positions makes it a mesh.Snapshot, and the guard then expects the
// poll still to be there when the event is written: a vote decided on
// stale state is refused by JetStream and decided again.
type pollSnapshot struct {
	Total int
	Voted bool // whether the voter has voted already
	mesh.Positions
}

func (t *totals) read(poll, voter string) (pollSnapshot, error) {
	var snap pollSnapshot
	err := t.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketTotals); b != nil {
			snap.Total, _ = strconv.Atoi(string(b.Get([]byte(poll))))
			snap.Voted = b.Get([]byte(poll+"/"+voter)) != nil
		}
		snap.Positions = mesh.ReadPositions(tx, "polls.poll."+poll)
		return nil
	})
	return snap, err
}

// polls is the service: its plan (what provisioning makes for it, and all
// its NATS user may do), and Start.
type polls struct {
	store *totals
	w     *mesh.Writer
}

func (*polls) Name() string { return "polls" }

func (*polls) Plan() mesh.Plan {
	return mesh.Plan{
		Service: "polls", Bucket: "polls",
		Writes: mesh.StreamSpec{Name: "POLLS", Subjects: []string{"polls.>"}},
	}
}

// Start wires the service on its runtime, in the one order its parts
// allow: project its stream into its store, which gives it the writer, so
// nothing is written before its state is projected. (A service with an
// HTTP API registers it on rt.API next, and its reactions with rt.React.)
func (p *polls) Start(ctx context.Context, rt *mesh.Runtime) (err error) {
	p.store, p.w, err = mesh.Project(ctx, rt, newTotals)
	return err
}

// vote is a command: a decision over a fresh snapshot. The decision is
// where a request sent twice is recognised: JetStream drops a retried
// publish of the same decision (its id comes from the cause and the
// position it expects), but a request sent again after it succeeded is
// decided again on newer state, and only the rule can say "done already".
// Deciding nothing is fine: the writer then catches up once and decides
// again, in case the state lagged.
func (p *polls) vote(ctx context.Context, requestID, poll, voter string) error {
	read := func() (pollSnapshot, error) { return p.store.read(poll, voter) }
	return mesh.Decide(ctx, p.w, mesh.Cause{ID: requestID}, read, func(s pollSnapshot) ([]voted, error) {
		if s.Voted {
			return nil, nil
		}
		return []voted{{Poll: poll, Voter: voter, Total: s.Total + 1}}, nil
	})
}

func Example_service() {
	dir, _ := os.MkdirTemp("", "polls-")
	defer os.RemoveAll(dir)
	srv, err := ops.StartServer(ops.ServerOptions{Addr: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	n := &mesh.Node{
		JS: js, HTTP: httpapi.NewHTTP(observe.Observer{Log: zerolog.Nop()}, "admin"), Log: zerolog.Nop(), DataDir: dir,
		Contracts: pollContracts,
	}

	svc := &polls{}
	if err := mesh.Provision(ctx, js, n.Storage, n.Reactions, svc.Plan()); err != nil { // the operator's step
		fmt.Println(err)
		return
	}
	rt, err := n.Start(ctx, svc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Stop()

	requests := []struct{ id, voter string }{{"r1", "ann"}, {"r2", "bob"}, {"r2", "bob"}} // r2 is sent twice
	for _, r := range requests {
		if err := svc.vote(ctx, r.id, "lunch", r.voter); err != nil {
			fmt.Println(err)
			return
		}
	}
	// The writer returns once the view is published: a reader reads its write.
	var total int
	if _, err := svc.store.views.Get(ctx, "lunch", &total); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("votes for lunch:", total)
	// Output: votes for lunch: 2
}
