package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// A shop whose NATS server stops answering (cut off from the network, not
// shut down: the connection stays open) says it is not ready as soon as a
// round trip fails, not only once its client's pings run out, so that a
// load balancer sends requests elsewhere. Once the server answers again,
// the shop is ready again.
func TestAServerThatStopsAnsweringMakesTheShopUnready(t *testing.T) {
	server := operatedServer(t)
	cut := startCuttableLink(t, server.Addr().String())
	m := openReplica(t, "nats://"+cut.addr)
	awaitReadiness(t, m, http.StatusOK, "")

	cut.hold()
	awaitReadiness(t, m, http.StatusServiceUnavailable, "does not answer")
	cut.release()
	awaitReadiness(t, m, http.StatusOK, "")
}

func awaitReadiness(t *testing.T, m *mall, status int, says string) {
	t.Helper()
	meshtest.Eventually(t, 30*time.Second, func() error {
		r := m.http.Do(http.MethodGet, "/readyz", nil, nil)
		if r.Status != status || !strings.Contains(string(r.Body), says) {
			return fmt.Errorf("/readyz %d %s, want %d saying %q", r.Status, r.Body, status, says)
		}
		return nil
	})
}

// cuttableLink forwards TCP connections to a server and, while held,
// forwards nothing either way, as a network cut does: the connections stay
// open and bytes wait.
type cuttableLink struct {
	addr string
	mu   sync.Mutex
	open *sync.Cond
	held bool
}

func startCuttableLink(t *testing.T, target string) *cuttableLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &cuttableLink{addr: ln.Addr().String()}
	l.open = sync.NewCond(&l.mu)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		l.release()
		conns.Wait()
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			conns.Go(func() { l.pipe(server, client) })
			conns.Go(func() { l.pipe(client, server) })
		}
	}()
	return l
}

// pipe copies from one end to the other, waiting while the link is held,
// and closes both ends when either closes.
func (l *cuttableLink) pipe(to, from net.Conn) {
	defer to.Close()
	defer from.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			l.awaitOpen()
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (l *cuttableLink) awaitOpen() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.held {
		l.open.Wait()
	}
}

func (l *cuttableLink) hold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = true
}

func (l *cuttableLink) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = false
	l.open.Broadcast()
}
