package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// WriteTimeout is how long a write to a follower may take before the
// follower is dropped: a client that does not read holds no more than
// that of the server's time and buffers.
const WriteTimeout = 5 * time.Second

// SendBuffer is the kernel's send buffer of a follower's connection
// (SO_SNDBUF; Linux doubles it). Left to itself the kernel grows it to
// megabytes for a client that does not read, and every change is written
// into it, one write per follower, for many seconds before a write
// blocks; with a small buffer a follower that does not read blocks within
// a moment, costs nothing more, and is dropped WriteTimeout later. 64 KiB
// is still a second of every change of a busy shop.
const SendBuffer = 64 << 10

// writeBuffered is a connection whose send buffer can be set.
type writeBuffered interface{ SetWriteBuffer(bytes int) error }

type connKey struct{}

// ConnContext is the http.Server's ConnContext that lets a stream of
// changes bound its connection's send buffer (SendBuffer).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// IdlePace is how often a follower that does not take what it is sent
// (the kernel holds bytes for it it cannot send) is written to: its
// changes gather in the ring meanwhile, and go in one write. A follower
// costs a write per change it is sent; 256 that never read, written to at
// every change of a busy shop, took about half of its orders per
// second (0.4-0.6× from 100 addresses, docs/performance.md); paced, they
// take little.
const IdlePace = 100 * time.Millisecond

// unsentIdle is what the kernel holds unsent for a follower that does
// not read: a client that reads is sent a few segments late at most (the
// kernel sends small writes in batches), never a quarter of SendBuffer.
const unsentIdle = SendBuffer / 4

// boundSendBuffer bounds the send buffer of the request's connection,
// when the server keeps it in the context (ConnContext), and returns the
// connection, to ask what it has not sent; nil when it is not known.
func boundSendBuffer(ctx context.Context) syscall.Conn {
	if c, ok := ctx.Value(connKey{}).(writeBuffered); ok {
		_ = c.SetWriteBuffer(SendBuffer)
	}
	c, _ := ctx.Value(connKey{}).(syscall.Conn)
	return c
}

// follower writes to one client, each write with a deadline of its own.
type follower struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// conn is the client's connection, nil when it is not known: then the
	// follower is never paced.
	conn syscall.Conn
}

// pace waits gap after a write, or IdlePace when the kernel holds bytes
// for the client it could not send, and reports false if the client left
// meanwhile. A gap under a millisecond is not waited: timers cost more.
func (f follower) pace(ctx context.Context, gap time.Duration) bool {
	if f.conn != nil {
		if n, ok := unsent(f.conn); ok && n > unsentIdle {
			gap = IdlePace
		}
	}
	if gap < time.Millisecond {
		return true
	}
	t := time.NewTimer(gap)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f follower) write(data []byte) error {
	if err := f.rc.SetWriteDeadline(time.Now().Add(WriteTimeout)); err != nil {
		return err
	}
	if _, err := f.w.Write(data); err != nil {
		return err
	}
	return f.rc.Flush()
}

// cut closes the connection of a dropped follower: the end of its
// response, written after the handler returns, fails at once, and the
// server closes a connection whose write failed. The client sees its
// stream break rather than end, and keeps no idle connection.
func (f follower) cut() { _ = f.rc.SetWriteDeadline(time.Now()) }

// failed tells a write that timed out, a dropped follower, from a client
// that left.
func (f follower) failed(ctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil
}
