//go:build !linux

package main

import "testing"

// mountTmpfs skips the test: tmpfs is Linux's.
func mountTmpfs(t *testing.T, _ int) string {
	t.Helper()
	t.Skip("the test mounts a tmpfs, which needs Linux (and root)")
	return ""
}

// isNoSpace is never asked off Linux: the tests that fill a disk skip.
func isNoSpace(error) bool { return false }
