//go:build cluster

// Package deploy holds the chaos test of the compose cluster, behind the
// cluster build tag (it needs a Docker engine and takes minutes):
//
//	go test -tags cluster -count=1 -timeout 20m -v ./deploy/...
//
// It builds the images here (deploy/cluster.sh), starts 3 NATS nodes, two
// replicas of each service and Caddy, drives orders through Caddy for the
// whole test, and after each fault checks every invariant with the load
// paused. CLUSTER_KEEP=1 leaves the cluster running afterwards.
package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
)

// How the test paces itself: on 2 cores the whole run takes about 5 minutes.
const (
	workers   = 6
	perSecond = 25
	// hold is how long a fault lasts before it is healed.
	hold = 15 * time.Second
)

// fault is one step of the test: it breaks something, holds, heals, and
// returns when it healed.
type fault struct {
	name string
	do   func(*chaos) (started, healed time.Time)
}

// chaos is the running test: the cluster, its shop under load, and NATS.
type chaos struct {
	t    *testing.T
	c    *cluster
	nc   *nats.Conn
	js   jetstream.JetStream
	load *load
}

func TestChaos(t *testing.T) {
	c := newCluster(t)
	c.up()
	nc, js := connectAdmin(t)
	s := newShop()
	initial := s.catalog(t)
	l := startLoad(s, slices.Collect(maps.Keys(initial)), workers, perSecond)
	defer l.end()
	x := &chaos{t: t, c: c, nc: nc, js: js, load: l}
	check := &checker{shop: s, load: l, js: js, initial: initial, cluster: c, explained: map[string]bool{}}

	start := time.Now()
	time.Sleep(hold)
	t.Logf("%-46s %6.1f orders/s", "no fault", l.window(start, time.Now()).rate)
	check.verify(t, "no fault")
	for _, f := range []fault{
		{"kill -9 the leader of ORDERS and INVENTORY", (*chaos).killLeader},
		{"cut one NATS node off, then heal", (*chaos).partition},
		{"kill -9 one replica of each service", (*chaos).killReplicas},
		{"rolling restart of every service", (*chaos).rollingRestart},
	} {
		if d, ok := t.Deadline(); ok && time.Until(d) < 5*time.Minute {
			t.Errorf("%s and the steps after it skipped: less than 5 minutes left before -timeout", f.name)
			break
		}
		started, healed := f.do(x)
		c.awaitHealthy(3 * time.Minute)
		recovered := time.Since(healed)
		during := l.window(started, healed)
		t.Logf("%-46s %6.1f orders/s during the fault, longest with none acknowledged %s, every container healthy %s after the heal",
			f.name, during.rate, l.window(started, time.Now()).gap.Round(100*time.Millisecond), recovered.Round(100*time.Millisecond))
		check.verify(t, f.name)
	}
	l.end()
	check.verify(t, "the end")
	t.Logf("in all: %s in %s", l.summary(), time.Since(start).Round(time.Second))
}

// killLeader kills (SIGKILL) the node leading ORDERS, once INVENTORY is led
// by the same node, and starts it again after hold.
func (x *chaos) killLeader() (time.Time, time.Time) {
	leader := x.leader(events.OrdersStream)
	x.moveLeader(events.InventoryStream, leader)
	id := x.c.container(leader)
	started := time.Now()
	x.c.docker("kill", "-s", "KILL", id)
	x.t.Logf("killed %s, leader of ORDERS and INVENTORY (%s)", leader, x.c.health(id))
	x.awaitNewLeader(events.OrdersStream, leader, started)
	time.Sleep(time.Until(started.Add(hold)))
	x.c.docker("start", id)
	healed := time.Now()
	x.awaitCurrent(leader, healed)
	return started, healed
}

// partition disconnects the node leading ORDERS from the compose network,
// so it is cut off from the other two and from every client, and
// reconnects it after hold under its service name.
func (x *chaos) partition() (time.Time, time.Time) {
	node := x.leader(events.OrdersStream)
	id := x.c.container(node)
	started := time.Now()
	x.c.docker("network", "disconnect", x.c.network(), id)
	x.t.Logf("cut %s, leader of ORDERS, off the network", node)
	x.awaitNewLeader(events.OrdersStream, node, started)
	time.Sleep(time.Until(started.Add(hold)))
	x.c.docker("network", "connect", "--alias", node, x.c.network(), id)
	healed := time.Now()
	x.awaitCurrent(node, healed)
	return started, healed
}

// killReplicas kills (SIGKILL) the first replica of each service and
// starts them again after hold; the second replicas carry the load.
func (x *chaos) killReplicas() (time.Time, time.Time) {
	var ids []string
	for _, s := range []string{"products-1", "inventory-1", "orders-1", "payments-1"} {
		ids = append(ids, x.c.container(s))
	}
	started := time.Now()
	x.c.docker(append([]string{"kill", "-s", "KILL"}, ids...)...)
	time.Sleep(time.Until(started.Add(hold)))
	x.c.docker(append([]string{"start"}, ids...)...)
	return started, time.Now()
}

// rollingRestart restarts the first replica of every service, then the
// second once the first are healthy again (so each service keeps one
// replica serving), then every NATS node, one at a time, each once the one
// before is healthy and its streams current.
func (x *chaos) rollingRestart() (time.Time, time.Time) {
	started := time.Now()
	for _, n := range []string{"1", "2"} {
		var group []string
		for _, s := range []string{"products", "inventory", "orders", "payments"} {
			group = append(group, s+"-"+n)
		}
		x.restart(group...)
	}
	for _, n := range natsNodes {
		x.restart(n.name)
		x.awaitCurrent(n.name, time.Now())
	}
	return started, time.Now()
}

// restart restarts services together (SIGTERM, SIGKILL after 10s) and
// waits until every one is healthy again.
func (x *chaos) restart(services ...string) {
	var ids []string
	for _, s := range services {
		ids = append(ids, x.c.container(s))
	}
	begin := time.Now()
	x.c.docker(append([]string{"restart", "-t", "10"}, ids...)...)
	for i, id := range ids {
		for deadline := time.Now().Add(2 * time.Minute); x.c.health(id) != "running healthy"; time.Sleep(500 * time.Millisecond) {
			if time.Now().After(deadline) {
				x.t.Fatalf("%s not healthy 2m after its restart: %s", services[i], x.c.health(id))
			}
		}
	}
	x.t.Logf("restarted %s: healthy again in %s", strings.Join(services, ", "), time.Since(begin).Round(100*time.Millisecond))
}

// leader is the name of the node leading a stream.
func (x *chaos) leader(stream string) string {
	x.t.Helper()
	var leader string
	x.eventually(30*time.Second, func() error {
		info, err := x.streamInfo(stream)
		if err != nil {
			return err
		}
		if leader = info.Cluster.Leader; leader == "" {
			return fmt.Errorf("%s has no leader", stream)
		}
		return nil
	})
	return leader
}

// moveLeader asks a stream's leader to step down in favour of node, so one
// kill takes out the leaders of two streams.
func (x *chaos) moveLeader(stream, node string) {
	if x.leader(stream) == node {
		return
	}
	req, _ := json.Marshal(map[string]any{"placement": map[string]any{"preferred": node}})
	if _, err := x.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, req, 5*time.Second); err != nil {
		x.t.Logf("%s stays where it is (step down: %v)", stream, err)
		return
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if x.leader(stream) == node {
			return
		}
	}
	x.t.Logf("%s is led by %s, not %s", stream, x.leader(stream), node)
}

// awaitNewLeader logs when a stream has a leader other than old again.
func (x *chaos) awaitNewLeader(stream, old string, since time.Time) {
	for deadline := time.Now().Add(hold); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if info, err := x.streamInfo(stream); err == nil && info.Cluster.Leader != "" && info.Cluster.Leader != old {
			x.t.Logf("%s led by %s %s after the fault", stream, info.Cluster.Leader, time.Since(since).Round(100*time.Millisecond))
			return
		}
	}
	x.t.Logf("%s had no new leader within %s", stream, hold)
}

// awaitCurrent waits until a node's /healthz says its JetStream is current
// (every stream and consumer caught up), and logs how long that took.
func (x *chaos) awaitCurrent(node string, since time.Time) {
	port := 0
	for _, n := range natsNodes {
		if n.name == node {
			port = n.monitor
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	client := http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				x.t.Logf("%s current again %s after the heal", node, time.Since(since).Round(100*time.Millisecond))
				return
			}
		}
	}
	// Slow, not wrong: the step goes on to wait up to 3 minutes for every
	// container, this node's health check included, and fails there.
	x.t.Logf("%s: JetStream not current 2m after the heal (seen once: NATS catching a healed node up)", node)
}

func (x *chaos) streamInfo(stream string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := x.js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info := s.CachedInfo()
	if info.Cluster == nil {
		return nil, fmt.Errorf("%s: no cluster information", stream)
	}
	return info, nil
}

func (x *chaos) eventually(limit time.Duration, f func() error) {
	x.t.Helper()
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	x.t.Fatal(strings.TrimSpace(err.Error()))
}
