//go:build !unix

package httpapi

// ConnectionCap is how many HTTP connections to serve at once when none
// is configured. Without a descriptor limit to read, it is a fixed number
// that leaves room on any machine.
func ConnectionCap() (int, error) { return 4096, nil }
