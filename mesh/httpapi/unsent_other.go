//go:build !linux

package httpapi

import "syscall"

// unsent cannot tell, elsewhere than on Linux, what the kernel has not
// sent: followers there are never paced, only dropped.
func unsent(syscall.Conn) (int, bool) { return 0, false }
