package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// watcher is a client of a stream of changes that reads the answer's head
// and its first event, and then never reads again, as issue 19's attacker
// did with 1,500 of them.
type watcher struct {
	conn   net.Conn
	status string
	header http.Header
}

// watch opens path from the loopback address from (127.0.0.x), with the
// extra header lines given, and reads the head of the answer; a follower
// admitted is read up to its `watching` event.
func watch(t *testing.T, shopAddr, from, path, extra string) *watcher {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", shopAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: shop\r\nAccept: text/event-stream\r\n" + extra + "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("%s from %s: %v", path, from, err)
	}
	w := &watcher{conn: c, status: resp.Status, header: resp.Header}
	if resp.StatusCode == http.StatusOK {
		w.awaitWatching(t, r)
	}
	_ = c.SetReadDeadline(time.Time{})
	return w
}

// awaitWatching reads the stream up to its first event, which must be
// `watching`.
func (w *watcher) awaitWatching(t *testing.T, r *bufio.Reader) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no watching event: %v", err)
		}
		if strings.HasPrefix(line, "event: ") {
			if line != "event: watching\n" {
				t.Fatalf("first event %q, want watching", line)
			}
			return
		}
	}
}

// refused checks that w was turned away with status, as a problem with a
// Retry-After.
func (w *watcher) refused(t *testing.T, what string, status int) {
	t.Helper()
	if !strings.HasPrefix(w.status, fmt.Sprint(status)) {
		t.Fatalf("%s: %s, want %d", what, w.status, status)
	}
	if w.header.Get("Retry-After") == "" || w.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%s: refused without a problem and a Retry-After: %v", what, w.header)
	}
}

func (w *watcher) admitted(t *testing.T, what string) {
	t.Helper()
	if !strings.HasPrefix(w.status, "200") {
		t.Fatalf("%s: %s, want 200", what, w.status)
	}
}

// Issue 19, finding 5: clients that open streams of changes and never
// read them. One address holds at most 16 followers, whatever
// X-Forwarded-For it sends; the next is a 429 with a Retry-After, on
// every stream, while other addresses are served, and the shop still
// takes orders. Once the watchers leave, their address is served again.
func TestWatchersThatNeverReadAreBoundedPerAddress(t *testing.T) {
	t.Parallel()
	m := openMall(t, testConfig(t))
	mug := m.product("MUG", 100, 1000)
	addr := strings.TrimPrefix(m.shop.httpURL, "http://")
	var held []*watcher
	for i := range 16 {
		w := watch(t, addr, "127.0.0.2", "/inventory/changes", "")
		w.admitted(t, fmt.Sprintf("follower %d from one address", i+1))
		held = append(held, w)
	}
	watch(t, addr, "127.0.0.2", "/inventory/changes", "").refused(t, "the 17th follower from one address", http.StatusTooManyRequests)
	watch(t, addr, "127.0.0.2", "/inventory/changes", "X-Forwarded-For: 203.0.113.9\r\n").
		refused(t, "the 17th, claiming another address", http.StatusTooManyRequests)
	watch(t, addr, "127.0.0.2", "/orders/changes", "Authorization: Bearer "+meshtest.AdminToken+"\r\n").
		refused(t, "the 17th, on another stream", http.StatusTooManyRequests)
	watch(t, addr, "127.0.0.3", "/inventory/changes", "").admitted(t, "a follower from another address")
	for i := range 20 {
		m.http.Do(http.MethodPost, "/inventory/"+mug+"/adjustments", map[string]any{"delta": 1, "reason": fmt.Sprint("restock ", i)}, meshtest.Admin()).Expect(http.StatusOK)
	}
	if o := m.awaitTerminal(m.place("while-watched", "tok_visa", line{mug, 1})); o.Status != "confirmed" {
		t.Fatalf("order while watchers hang on: %+v", o)
	}
	for _, w := range held {
		_ = w.conn.Close()
	}
	meshtest.Eventually(t, 10*time.Second, func() error {
		w := watch(t, addr, "127.0.0.2", "/inventory/changes", "")
		defer w.conn.Close()
		if !strings.HasPrefix(w.status, "200") {
			return errorf("the address is still refused once its watchers left: %s", w.status)
		}
		return nil
	})
}

// The followers of the whole process are bounded too (256): past that, a
// new address is answered 503 with a Retry-After.
func TestWatchersFromManyAddressesAreBoundedInTotal(t *testing.T) {
	t.Parallel()
	m := openMall(t, testConfig(t))
	addr := strings.TrimPrefix(m.shop.httpURL, "http://")
	for a := range 16 {
		for i := range 16 {
			w := watch(t, addr, fmt.Sprintf("127.0.1.%d", a+1), "/inventory/changes", "")
			w.admitted(t, fmt.Sprintf("follower %d of address %d", i+1, a+1))
		}
	}
	watch(t, addr, "127.0.2.1", "/inventory/changes", "").refused(t, "the 257th follower", http.StatusServiceUnavailable)
}
