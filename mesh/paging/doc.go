// Package paging pages a service's list queries over its bbolt indexes.
// A page ends at an index key, which is handed to clients as an opaque
// Cursor with a checksum, so that a cursor this service did not hand out
// is refused (ErrBadCursor) rather than read as a position.
package paging
