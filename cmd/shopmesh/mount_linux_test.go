package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes on a directory of the test's,
// unmounted when the test ends (after the shop on it has stopped). It
// needs root, or CAP_SYS_ADMIN: without, the test is skipped, except where
// SHOPMESH_REQUIRE_MOUNT=true says the machine can mount one (.ci/run
// sets it after trying), where a skip would hide that the test never ran.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		why := fmt.Sprintf("cannot mount a tmpfs (%v): the test needs root or CAP_SYS_ADMIN; "+
			"run it with `sudo -E go test -run %s ./cmd/shopmesh` or `task test:disk`", err, t.Name())
		if os.Getenv("SHOPMESH_REQUIRE_MOUNT") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// isNoSpace says err is a file system's "no space left on device".
func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }
