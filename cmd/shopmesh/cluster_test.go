package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
)

// TestR3StreamsSurviveTheLossOfTheirLeader runs the saga on a three-node
// JetStream cluster (routes on loopback) with every stream and bucket
// replicated three times, and two replicas of every service. In the middle
// of the saga the server that leads ORDERS is shut down: every order the
// API accepted still ends, and every invariant holds.
func TestR3StreamsSurviveTheLossOfTheirLeader(t *testing.T) {
	cluster := startCluster(t, 3)
	a, b := openReplica(t, cluster.urls()), openReplica(t, cluster.urls())
	mug := a.product("MUG", 100, 40)
	cup := b.product("CUP", 100, 40)

	var mu sync.Mutex
	var ids []string
	placeSome := func(round string) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				at := []*mall{a, b}[i%2]
				id := at.placeThroughFailover(fmt.Sprintf("%s-%d", round, i), line{mug, 1}, line{cup, 1})
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	placeSome("before")
	leader := cluster.leaderOf(t, events.OrdersStream)
	var during sync.WaitGroup
	during.Go(func() { placeSome("during") })
	cluster.shutDown(leader)
	t.Logf("shut down %s, the leader of %s", leader, events.OrdersStream)
	placeSome("after")
	during.Wait()

	for _, m := range []*mall{a, b} {
		meshtest.Eventually(t, time.Minute, func() error {
			if r := m.http.Do(http.MethodGet, "/readyz", nil, nil); r.Status != http.StatusOK {
				return fmt.Errorf("not ready: %s", r.Body)
			}
			return nil
		})
	}
	confirmed := 0
	mu.Lock()
	placed := append([]string(nil), ids...)
	mu.Unlock()
	for _, id := range placed {
		if a.awaitTerminal(id).Status == "confirmed" {
			confirmed++
		}
	}
	if confirmed > 40 {
		t.Fatalf("%d orders confirmed with stock for 40", confirmed)
	}
	a.checkInvariants(map[string]int64{mug: 40, cup: 40})
}

// placeThroughFailover places an order for alice, asking again with the
// same idempotency key while the cluster elects new leaders (503).
func (m *mall) placeThroughFailover(key string, lines ...line) string {
	m.t.Helper()
	h := http.Header{"Idempotency-Key": {key}}
	deadline := time.Now().Add(time.Minute)
	for {
		r := m.http.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", lines...), h)
		if r.Status == http.StatusAccepted || r.Status == http.StatusOK {
			var o order
			r.Decode(&o)
			return o.ID
		}
		if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			m.t.Fatalf("placing %s: %d %s", key, r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// natsCluster is a JetStream cluster of embedded servers, each with the
// mesh's users, provisioned with replicated streams.
type natsCluster struct {
	servers []*server.Server
}

// startCluster starts n servers routed to one another on loopback, sets
// the users' passwords in the environment (so the test cannot run in
// parallel) and provisions the mesh with n replicas.
func startCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	plans := allPlans(defaultConfig())
	creds := natsauth.Generate(natsauth.UserNames(plans))
	for user, pw := range creds {
		t.Setenv(natsauth.PasswordVar(user), pw)
	}
	ports := freePorts(t, n)
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &natsCluster{}
	for i, port := range ports {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
			JetStream: true, StoreDir: t.TempDir(), Users: natsauth.Users(plans, creds),
			Cluster: server.ClusterOpts{Name: "shopmesh", Host: "127.0.0.1", Port: port},
			Routes:  routes,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		c.servers = append(c.servers, s)
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
	}
	for _, s := range c.servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s not ready", s.Name())
		}
	}
	c.provision(t, n)
	return c
}

// provision provisions the mesh once every server follows a meta leader:
// until then JetStream answers no API request.
func (c *natsCluster) provision(t *testing.T, replicas int) {
	t.Helper()
	meshtest.Eventually(t, time.Minute, func() error {
		for _, s := range c.servers {
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("%s follows no JetStream meta leader yet", s.Name())
			}
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(c.servers) {
				return nil
			}
		}
		return fmt.Errorf("the JetStream meta leader does not know all %d servers yet", len(c.servers))
	})
	var out strings.Builder
	if err := provisionCommand([]string{"--nats", c.urls(), "--stream-replicas", fmt.Sprint(replicas)}, &out); err != nil {
		t.Fatal(err)
	}
}

func (c *natsCluster) urls() string {
	var urls []string
	for _, s := range c.servers {
		if s.Running() {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// leaderOf names the server that leads stream's replicas.
func (c *natsCluster) leaderOf(t *testing.T, stream string) string {
	t.Helper()
	nc, err := nats.Connect(c.urls(), natsauth.Options(natsauth.Admin, adminCreds())...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.Cluster != nil && info.Cluster.Leader != "" {
		return info.Cluster.Leader
	}
	t.Fatalf("%s has no leader", stream)
	return ""
}

func (c *natsCluster) shutDown(name string) {
	for _, s := range c.servers {
		if s.Name() == name {
			s.Shutdown()
		}
	}
}

// adminCreds are the operator's credentials, as startCluster set them.
func adminCreds() natsauth.Credentials {
	c, _ := natsauth.FromEnv([]string{natsauth.Admin})
	return c
}

// freePorts finds n ports free on loopback, for routes that every node
// must know before any starts.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		defer ln.Close()
	}
	return ports
}
