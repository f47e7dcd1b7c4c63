package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// idleFollowers are clients that follow the stock as it changes and never
// read what they are sent, as issue 19's attacker did: a load run with
// them measures what they cost the shop. They hang on for the whole run;
// one turned away comes back after its Retry-After.
type idleFollowers struct {
	Opened   int   `json:"opened"`
	Admitted int64 `json:"admitted"`
	Refused  int64 `json:"refused"`

	admitted atomic.Int64
	refused  atomic.Int64
	held     sync.WaitGroup
}

// startIdleFollowers opens n followers of the shop at base from addresses
// loopback addresses (127.0.0.2 on), spread evenly, and returns once each
// has been answered once.
func startIdleFollowers(ctx context.Context, base string, n, addresses int) (*idleFollowers, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	f := &idleFollowers{Opened: n}
	var answered sync.WaitGroup
	answered.Add(n)
	for i := range n {
		from := net.IPv4(127, 0, 0, byte(2+i%addresses))
		f.held.Go(func() { f.hold(ctx, u.Host, from, answered.Done) })
	}
	answered.Wait()
	return f, nil
}

// hold keeps one follower open until ctx ends, never reading after the
// answer's head; answered is called after the first answer.
func (f *idleFollowers) hold(ctx context.Context, host string, from net.IP, answered func()) {
	var once sync.Once
	defer once.Do(answered)
	for ctx.Err() == nil {
		conn, retry, err := openIdle(ctx, host, from)
		once.Do(answered)
		if err == nil {
			f.admitted.Add(1)
			<-ctx.Done()
			_ = conn.Close()
			return
		}
		f.refused.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

// openIdle asks for the stock's changes from the address from and reads
// the answer's head: a follower admitted is returned, and never read
// again; one refused says when to come back.
func openIdle(ctx context.Context, host string, from net.IP) (net.Conn, time.Duration, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: from}}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, time.Second, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /inventory/changes HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", host)
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 512), nil)
	if err == nil && resp.StatusCode == http.StatusOK {
		_ = conn.SetDeadline(time.Time{})
		return conn, 0, nil
	}
	_ = conn.Close()
	if err != nil {
		return nil, time.Second, err
	}
	return nil, retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("%s", resp.Status)
}

// retryAfter reads a Retry-After of seconds; without one, a second.
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// stop closes every follower (cancel has ended their context) and keeps
// the counts.
func (f *idleFollowers) stop() {
	f.held.Wait()
	f.Admitted, f.Refused = f.admitted.Load(), f.refused.Load()
}
