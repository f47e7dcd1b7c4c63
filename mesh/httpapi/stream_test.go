package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/observe"
)

// streamServer serves GET /things/changes, a stream of the changes the
// test sends, through a broadcast of ring changes.
type streamServer struct {
	url       string
	followers *httpapi.Followers
	mu        sync.Mutex
	source    chan httpapi.Change
	done      <-chan struct{} // closes when the stream is let go
	follows   int             // how many times the stream was followed
	following int             // how many followings are running now
}

type watchingThings struct {
	Even bool `json:"even,omitempty"`
}

type thingsInput struct {
	Even bool `query:"even"`
}

func newStreamServer(t *testing.T, ring int) *streamServer {
	t.Helper()
	s := &streamServer{}
	h := httpapi.NewHTTP(observe.Observer{Log: meshtest.Logger(t)}, "token")
	s.followers = h.Followers()
	api := h.API(httpapi.ServiceDoc{Prefix: "/things", Title: "Things"})
	b := httpapi.NewBroadcastOfSize("things", "thing", s.follow, func(c httpapi.Change) any { return c }, ring)
	httpapi.RegisterStream(api, h.Followers(), huma.Operation{
		OperationID: "watchThings", Method: http.MethodGet, Path: "/things/changes",
	}, map[string]any{"watching": watchingThings{}, "thing": httpapi.Change{}}, b,
		func(_ context.Context, in *thingsInput) httpapi.Follow[watchingThings, httpapi.Change] {
			f := httpapi.Follow[watchingThings, httpapi.Change]{Watching: watchingThings(*in)}
			if in.Even {
				f.Keep = func(c httpapi.Change) bool { return c.N%2 == 0 }
			}
			return f
		})
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// follow is the stream's source: the test's channel, while followed.
func (s *streamServer) follow(ctx context.Context) <-chan httpapi.Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follows++
	s.following++
	s.source, s.done = make(chan httpapi.Change), ctx.Done()
	out, source := make(chan httpapi.Change), s.source
	go func() {
		defer close(out)
		defer func() { s.mu.Lock(); s.following--; s.mu.Unlock() }()
		for {
			select {
			case c := <-source:
				out <- c
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// send hands the stream n changes from first on, or fewer if it is let
// go meanwhile.
func (s *streamServer) send(first, n int, note string) {
	s.mu.Lock()
	source, done := s.source, s.done
	s.mu.Unlock()
	for i := range n {
		select {
		case source <- httpapi.Change{N: first + i, Note: note}:
		case <-done:
			return
		}
	}
}

func (s *streamServer) followings() (follows, running int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.follows, s.following
}

// client is a follower of the stream over TCP: it reads only when told.
type client struct {
	conn   net.Conn
	r      *bufio.Reader
	status int
	header http.Header
}

func (s *streamServer) open(t *testing.T, query string, readBuffer int) *client {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if readBuffer > 0 {
		_ = c.(*net.TCPConn).SetReadBuffer(readBuffer)
	}
	fmt.Fprintf(c, "GET /things/changes%s HTTP/1.1\r\nHost: things\r\n\r\n", query)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{conn: c, r: r, status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK {
		if event, _ := cl.next(t); event != "watching" {
			t.Fatalf("first event %q, want watching", event)
		}
	}
	return cl
}

// next reads one event, through the chunked encoding: the body is read
// raw, as the attacker's client would.
func (c *client) next(t *testing.T) (event string, data []byte) {
	t.Helper()
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended: %v", err)
		}
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = strings.TrimSpace(e)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			return event, []byte(strings.TrimSpace(d))
		}
	}
}

func (c *client) change(t *testing.T) httpapi.Change {
	t.Helper()
	event, data := c.next(t)
	var ch httpapi.Change
	if err := json.Unmarshal(data, &ch); event != "thing" || err != nil {
		t.Fatalf("event %q %s, want a thing (%v)", event, data, err)
	}
	return ch
}

// A follower that reads gets every change it keeps, in order, each once;
// the stream is followed once for all of them, and let go when the last
// leaves.
func TestFollowersGetEveryChangeTheyKeepFromOneFollowing(t *testing.T) {
	t.Parallel()
	s := newStreamServer(t, httpapi.RingSize)
	all, even := s.open(t, "", 0), s.open(t, "?even=true", 0)
	go s.send(0, 100, "")
	for i := range 100 {
		if c := all.change(t); c.N != i {
			t.Fatalf("change %d, want %d", c.N, i)
		}
	}
	for i := 0; i < 100; i += 2 {
		if c := even.change(t); c.N != i {
			t.Fatalf("the even follower got %d, want %d", c.N, i)
		}
	}
	if follows, _ := s.followings(); follows != 1 {
		t.Fatalf("followed %d times for two followers, want once", follows)
	}
	_ = all.conn.Close()
	_ = even.conn.Close()
	meshtest.Eventually(t, 10*time.Second, func() error {
		if _, running := s.followings(); running != 0 {
			return fmt.Errorf("still followed with no follower")
		}
		return nil
	})
}

// Issue 19: a follower that never reads is dropped, and the changes are
// published as fast without it: the source is never held up (send
// returns), and once dropped the follower's place is free again.
func TestAFollowerThatNeverReadsIsDroppedAndNeverWaitedFor(t *testing.T) {
	t.Parallel()
	s := newStreamServer(t, 8)
	s.followers.Bound(1, 10, nil)
	s.open(t, "", 1024) // and never read again
	// send returns: nothing waits for the idle follower (or the follower,
	// dropped, let the stream go).
	s.send(0, 5000, strings.Repeat("x", 1000))
	meshtest.Eventually(t, 30*time.Second, func() error {
		next := s.open(t, "", 0)
		defer next.conn.Close()
		if next.status != http.StatusOK {
			return fmt.Errorf("the idle follower still holds its place: %d", next.status)
		}
		return nil
	})
}

// A follower over its address's share is a 429, over the process's a 503,
// each a problem with a Retry-After.
func TestFollowersOverTheBoundsAreTurnedAway(t *testing.T) {
	t.Parallel()
	s := newStreamServer(t, httpapi.RingSize)
	s.followers.Bound(2, 3, nil)
	s.open(t, "", 0)
	s.open(t, "", 0)
	refused(t, s.open(t, "", 0), http.StatusTooManyRequests)
	// Other clients are other addresses, on a trusted proxy's word.
	s.followers.Bound(2, 3, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	other := s.openFrom(t, "198.51.100.7")
	if other.status != http.StatusOK {
		t.Fatalf("a follower from another address: %d", other.status)
	}
	refused(t, s.openFrom(t, "198.51.100.8"), http.StatusServiceUnavailable)
}

func (s *streamServer) openFrom(t *testing.T, forwardedFor string) *client {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/things/changes", nil)
	req.Header.Set("X-Forwarded-For", forwardedFor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return &client{status: resp.StatusCode, header: resp.Header}
}

func refused(t *testing.T, c *client, status int) {
	t.Helper()
	if c.status != status || c.header.Get("Retry-After") == "" || c.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer %d %v, want a %d problem with a Retry-After", c.status, c.header, status)
	}
}
