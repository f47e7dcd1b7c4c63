//go:build linux || darwin || freebsd

package ops

import "syscall"

// diskSpace is the room left on the file system of dir to a process that
// is not root, and its size; ok is false when the system cannot say.
func diskSpace(dir string) (free, size uint64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), true
}
