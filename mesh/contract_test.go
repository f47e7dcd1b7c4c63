package mesh_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/ops"
	bolt "go.etcd.io/bbolt"
)

// noted remembers the bodies a projector or a handler was given.
type noted struct {
	mu     sync.Mutex
	bodies []string
}

func (n *noted) note(e mesh.Envelope) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.bodies = append(n.bodies, string(e.Data))
}

func (n *noted) seen() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.bodies...)
}

func (n *noted) Apply(_ *bolt.Tx, e mesh.Envelope) ([]mesh.View, error) {
	n.note(e)
	return nil, nil
}

// tallyContracts refuses a tally whose body says it is broken.
var tallyContracts = mesh.ContractFunc(func(eventType string, body []byte) error {
	if eventType == "test.tally.count.added.v1" && strings.Contains(string(body), "broken") {
		return errors.New("at '': missing property 'count'")
	}
	return nil
})

// The runtime asks the node's Contracts before any projector or handler
// sees an event, whatever the service: one that breaks its contract is
// set aside by the projection and given to the dead letters by the
// reaction, each with ErrBrokenContract and the contract's reason, and a
// redrive of it is refused again. The events after it are applied and
// handled.
func TestAnEventThatBreaksItsContractReachesNoProjectorNorHandler(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	n.Contracts = tallyContracts
	plan := mesh.Plan{
		Service: "tally", Writes: mesh.StreamSpec{Name: "TALLY", Subjects: []string{"tally.>"}},
		Durables: []mesh.Durable{{Name: "tally-on-itself", Stream: "TALLY", Subjects: []string{"tally.>"}}},
	}
	rt := meshtest.Open(t, n, plan)
	ctx := meshtest.Context(t)
	applied, handled := &noted{}, &noted{}
	if _, _, err := mesh.Project(ctx, rt, func(*bolt.DB, *mesh.Views) (*noted, error) { return applied, nil }); err != nil {
		t.Fatal(err)
	}
	handle := func(_ context.Context, e mesh.Envelope) error { handled.note(e); return nil }
	if err := rt.React(ctx, mesh.Reaction{Durable: plan.Durables[0], Handle: handle}); err != nil {
		t.Fatal(err)
	}

	meshtest.Forge(t, n.JS, "tally", "tally.count.a.added", "test.tally.count.added.v1", `{"broken":true}`)
	meshtest.Forge(t, n.JS, "tally", "tally.count.a.added", "test.tally.count.added.v1", `{"count":1}`)
	var dead []ops.DeadLetter
	meshtest.Eventually(t, 20*time.Second, func() error {
		var err error
		if dead, err = ops.DeadLetters(ctx, n.JS); err == nil && (len(dead) < 2 || len(handled.seen()) < 1 || len(applied.seen()) < 1) {
			err = fmt.Errorf("dead letters %+v, applied %v, handled %v", dead, applied.seen(), handled.seen())
		}
		return err
	})
	want := []string{`{"count":1}`}
	if fmt.Sprint(applied.seen()) != fmt.Sprint(want) || fmt.Sprint(handled.seen()) != fmt.Sprint(want) {
		t.Fatalf("applied %v, handled %v; want only the event that keeps its contract", applied.seen(), handled.seen())
	}
	refused := map[string]uint64{}
	for _, d := range dead {
		if strings.Contains(d.Error, mesh.ErrBrokenContract.Error()+": at '': missing property 'count'") {
			refused[d.Consumer] = d.Seq
		}
	}
	if len(dead) != 2 || refused["tally-projection"] == 0 || refused["tally-on-itself"] == 0 {
		t.Fatalf("dead letters %+v; want the broken event from the projection and the reaction, with the reason", dead)
	}
	if err := ops.Redrive(ctx, n.JS, refused["tally-on-itself"]); !errors.Is(err, ops.ErrRedriveFailed) || !strings.Contains(err.Error(), "missing property 'count'") {
		t.Fatalf("a redrive of the broken event answered %v; want it refused again", err)
	}
}

// A node without Contracts runs no service: what it read would reach its
// state unchecked.
func TestANodeWithoutContractsOpensNothing(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	n.Contracts = nil
	plan := mesh.Plan{Service: "tally", Writes: mesh.StreamSpec{Name: "TALLY", Subjects: []string{"tally.>"}}}
	if err := mesh.Provision(meshtest.Context(t), n.JS, n.Storage, n.Reactions, plan); err != nil {
		t.Fatal(err)
	}
	if rt, err := n.Open(meshtest.Context(t), plan); err == nil || !strings.Contains(err.Error(), "Contracts") {
		rt.Stop()
		t.Fatalf("a node without contracts opened a service: %v", err)
	}
}
