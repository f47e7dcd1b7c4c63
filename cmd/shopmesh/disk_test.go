package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// A data directory that fills up under load stops the shop's writes, as
// it should; once it has room again the shop serves again by itself, with
// no restart (issue 19, sixth finding). Meanwhile /readyz says the disk is
// full. Every order placed before ends, and new orders confirm. The disk
// is a small tmpfs (mountTmpfs: root only, skipped elsewhere), filled by a
// ballast file while customers place orders, and given room again by
// removing it.
func TestADiskThatFillsAndHasRoomAgain(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	cfg.Data = mountTmpfs(t, 32<<20)
	m := openMall(t, cfg)
	const stock = 1_000_000
	product := m.product("DISK-1", 100, stock)

	customers := m.customers(product)
	select {
	case <-customers.started:
	case <-meshtest.Context(t).Done():
		t.Fatal("the customers could not place their first orders")
	}
	ballast := filepath.Join(cfg.Data, "ballast")
	fill(t, ballast)
	// The customers go on until the shop is seen to stop writing: the
	// first writes on the full disk fail, and JetStream, which can free a
	// block of its own, may take a few before it is full too.
	var full string
	meshtest.Eventually(t, 2*time.Minute, func() error {
		if full = m.readyz(); !strings.Contains(full, "disk full") {
			return fmt.Errorf("/readyz on a full disk does not say so: %s", full)
		}
		return nil
	})
	customers.stop()
	t.Logf("/readyz while the disk is full: %s", full)

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	meshtest.Eventually(t, 2*time.Minute, func() error {
		if body := m.readyz(); !strings.Contains(body, `"status":"ready"`) {
			return fmt.Errorf("not ready again once the disk has room: %s", body)
		}
		return nil
	})
	placed := customers.wait()
	t.Logf("%d orders placed while the disk filled", len(placed))
	for _, id := range placed {
		m.awaitTerminal(id)
	}
	after := m.place("after-the-disk-filled", "tok_visa", line{product, 1})
	if o := m.awaitTerminal(after); o.Status != "confirmed" {
		t.Fatalf("an order placed once the disk has room: %+v", o)
	}
	// Every order ends, those a refusal left placed among them, and no
	// stock or money is lost on the way.
	m.checkInvariants(map[string]int64{product: stock})
}

// shoppers are customers who place orders of one product, one after
// another, until they are stopped.
type shoppers struct {
	// started closes once they have placed a few orders.
	started chan struct{}
	done    chan struct{}
	group   sync.WaitGroup
	mu      sync.Mutex
	placed  []string
}

// customers starts four customers placing orders of product.
func (m *mall) customers(product string) *shoppers {
	s := &shoppers{started: make(chan struct{}), done: make(chan struct{})}
	for c := range 4 {
		s.group.Go(func() {
			for i := 0; !isClosed(s.done); i++ {
				if id, ok := m.tryPlace(fmt.Sprintf("disk-%d-%d", c, i), product); ok {
					s.took(id)
				}
			}
		})
	}
	return s
}

func (s *shoppers) took(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.placed = append(s.placed, id); len(s.placed) == 20 {
		close(s.started)
	}
}

// stop asks the customers to stop after the order each is placing.
func (s *shoppers) stop() { close(s.done) }

// wait waits for the customers to stop, and returns the orders the shop
// took from them.
func (s *shoppers) wait() []string {
	s.group.Wait()
	return s.placed
}

// tryPlace places an order and says whether the shop took it; a refusal
// must be a 503, which tells the client to try again later.
func (m *mall) tryPlace(key, product string) (string, bool) {
	h := http.Header{"Idempotency-Key": {key}}
	r := m.http.Do(http.MethodPost, "/orders", orderBody("alice", "tok_visa", line{product, 1}), h)
	switch r.Status {
	case http.StatusAccepted:
		var o order
		r.Decode(&o)
		return o.ID, true
	case http.StatusServiceUnavailable:
		return "", false
	}
	m.t.Errorf("placing an order: %d %s", r.Status, r.Body)
	return "", false
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// fill writes path until its file system has no room left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, io.ErrShortWrite) || isNoSpace(err) {
				return
			}
			t.Fatal(err)
		}
	}
}

// readyz is /readyz's body.
func (m *mall) readyz() string {
	m.t.Helper()
	return string(m.http.Do(http.MethodGet, "/readyz", nil, nil).Body)
}
