package httpapi

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// unsent is how many bytes written to c the kernel holds and has not sent
// yet: the client's window is full, because it does not read. Bytes sent
// and not yet acknowledged are not counted, so a client that reads is
// never taken for one that does not. It reports false when it cannot
// tell.
func unsent(c syscall.Conn) (int, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ioErr := 0, error(nil)
	err = raw.Control(func(fd uintptr) { n, ioErr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQNSD) })
	return n, err == nil && ioErr == nil
}
