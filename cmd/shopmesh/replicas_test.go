package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

// TestTwoReplicasOfEveryService runs two shops, each with all four services
// and its own local state, against one NATS server: the distributed setup
// in one test process. Replicas share each durable consumer, so every event
// is handled once per service, and optimistic concurrency keeps their
// concurrent writes safe. Orders go to both replicas at once.
func TestTwoReplicasOfEveryService(t *testing.T) {
	server := operatedServer(t)
	a, b := openReplica(t, server.ClientURL()), openReplica(t, server.ClientURL())
	mug := a.product("MUG", 100, 20)
	cup := b.product("CUP", 100, 20)
	// The sku is taken, whichever replica is asked.
	b.http.Do(http.MethodPost, "/products", map[string]any{
		"sku": "MUG", "name": "Another mug", "price": money{100, "EUR"},
	}, meshtest.Admin()).Problem(http.StatusConflict)
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			at := a
			if i%2 == 1 {
				at = b
			}
			id := at.place(fmt.Sprintf("rep-%d", i), "tok_visa", line{mug, 1}, line{cup, 1})
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		})
	}
	wg.Wait()
	confirmed := 0
	for _, id := range ids {
		if a.awaitTerminal(id).Status == "confirmed" {
			confirmed++
		}
	}
	if confirmed != 20 {
		t.Fatalf("%d orders confirmed, want exactly 20 (stock for 20)", confirmed)
	}
	a.checkInvariants(map[string]int64{mug: 20, cup: 20})
	b.checkInvariants(map[string]int64{mug: 20, cup: 20})
}

// TestServicesSplitAcrossProcesses runs the catalog and inventory in one
// shop and every other service in another: services meet only in NATS.
func TestServicesSplitAcrossProcesses(t *testing.T) {
	server := operatedServer(t)
	process := func(services ...string) *mall {
		cfg := sagaConfig(t)
		cfg.NATSURL, cfg.Services = server.ClientURL(), services
		return openMall(t, cfg)
	}
	rest := slices.DeleteFunc(serviceNames(defaultConfig()), func(s string) bool { return s == "products" || s == "inventory" })
	warehouse, shopfront := process("products", "inventory"), process(rest...)
	mug := warehouse.product("MUG", 450, 3)
	shopfront.http.Do(http.MethodGet, "/products/"+mug, nil, nil).Problem(http.StatusNotFound)
	id := shopfront.place("split-1", "tok_visa", line{mug, 2})
	if o := shopfront.awaitTerminal(id); o.Status != "confirmed" || o.Total.Amount != 900 {
		t.Fatalf("order ended %+v", o)
	}
	shopfront.awaitIdle()
	if s := warehouse.stock(mug); s.OnHand != 1 || s.Reserved != 0 {
		t.Fatalf("stock after the order: %+v", s)
	}
}

// operatedServer is an external NATS server as an operator sets one up:
// a user per service, passwords in the environment (so the test cannot run
// in parallel), and the mesh provisioned by the provision command.
func operatedServer(t *testing.T) *server.Server {
	t.Helper()
	plans := allPlans(defaultConfig())
	creds := natsauth.Generate(natsauth.UserNames(plans))
	for user, pw := range creds {
		t.Setenv(natsauth.PasswordVar(user), pw)
	}
	s, err := ops.StartServer(ops.ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Users: natsauth.Users(plans, creds)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	var out strings.Builder
	if err := provisionCommand([]string{"--nats", s.ClientURL()}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `orders: streams, bucket "orders" and durable consumers [orders-on-inventory orders-on-payments orders-timers] ready`) {
		t.Fatalf("provision said:\n%s", out.String())
	}
	return s
}

// openReplica runs every service in a shop of its own against the
// external server at natsURL, as one replica among others.
func openReplica(t *testing.T, natsURL string) *mall {
	t.Helper()
	cfg := sagaConfig(t)
	cfg.NATSURL = natsURL
	return openMall(t, cfg)
}

// A process whose NATS server has gone stops when asked, at once: its
// reactions' drains need the server's answer, and used to wait for it for
// about 50 s (longer than a container runtime waits before it kills).
func TestAShopWhoseServerIsGoneStillStops(t *testing.T) {
	server := operatedServer(t)
	m := openReplica(t, server.ClientURL())
	m.product("MUG", 100, 5)
	server.Shutdown()
	server.WaitForShutdown()
	meshtest.Eventually(t, 30*time.Second, func() error {
		for _, nc := range m.shop.conns {
			if nc.IsConnected() {
				return fmt.Errorf("%s still connected", nc.Opts.Name)
			}
		}
		return nil
	})
	stopped := make(chan struct{})
	go func() {
		m.close()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("still stopping 20 s after it was asked, with its server gone")
	}
}

// On an external server, the operator archives with `shopmesh archive`:
// the events leave the streams, and the shop still answers for them.
func TestTheArchiveCommandArchivesAnExternalServer(t *testing.T) {
	server := operatedServer(t)
	m := openReplica(t, server.ClientURL())
	mug := m.product("EXT-ARCHIVE", 700, 5)
	id := m.place("ext-archive", "tok_visa", line{mug, 1})
	if o := m.awaitTerminal(id); o.Status != "confirmed" {
		t.Fatalf("order ended %s", o.Status)
	}
	m.awaitIdle()
	var out strings.Builder
	if err := archiveCommand([]string{"--nats", server.ClientURL(), "--after", "0s", "--overlap", "0s"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"ORDERS", "INVENTORY", "PAYMENTS"} {
		if !strings.Contains(out.String(), stream+": ") || !strings.Contains(out.String(), "the stream begins at") {
			t.Fatalf("archive said:\n%s", out.String())
		}
		s, err := m.js.Stream(meshtest.Context(t), stream)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.CachedInfo().State.Msgs; n != 0 {
			t.Errorf("%s still holds %d events after the archive", stream, n)
		}
	}
	if o := m.order(id); o.Status != "confirmed" {
		t.Fatalf("the archived order reads %s", o.Status)
	}
}
