//go:build unix

package httpapi

import (
	"fmt"
	"syscall"
)

// ConnectionCap is how many HTTP connections to serve at once when none
// is configured: the process's file-descriptor limit (which Go raises to
// the hard limit at start) less a quarter, at least 1024, kept for
// JetStream, the state files and NATS clients.
func ConnectionCap() (int, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("file descriptor limit: %w", err)
	}
	reserve := max(1024, lim.Cur/4)
	if lim.Cur <= reserve+64 {
		return 64, nil
	}
	return int(min(lim.Cur-reserve, 1<<20)), nil
}
