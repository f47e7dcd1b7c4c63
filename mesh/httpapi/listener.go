package httpapi

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// LimitListener serves at most max connections at once. A connection over
// the cap is answered at once with a 503 problem and Retry-After, and
// closed: a flood of idle clients then cannot use up the file descriptors
// that JetStream and the state files need.
func LimitListener(ln net.Listener, max int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
		default:
			refuse(c)
		}
	}
}

// busyResponse is what a connection over the cap gets, whatever it asked.
var busyResponse = func() []byte {
	body := `{"title":"Service Unavailable","status":503,"detail":"too many connections; try again in a second"}`
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"+
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

func refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write(busyResponse)
	_ = c.Close()
}

// slotConn gives its slot back when closed, once.
type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

// SetWriteBuffer sets the connection's send buffer, as a TCP
// connection's; a stream of changes bounds it (ConnContext).
func (c *slotConn) SetWriteBuffer(bytes int) error {
	if b, ok := c.Conn.(writeBuffered); ok {
		return b.SetWriteBuffer(bytes)
	}
	return nil
}

// SyscallConn is the TCP connection's, so that a stream of changes can
// ask the kernel what it has not sent (unsent).
func (c *slotConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

func (c *slotConn) Close() error {
	c.once.Do(c.free)
	return c.Conn.Close()
}
