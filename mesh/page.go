package mesh

import (
	"bytes"
	"encoding/base64"
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Page is one page of a list query. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// ErrBadCursor means a cursor was not one this service handed out.
var ErrBadCursor = errors.New("cursor is not valid")

// Cursor encodes, opaquely for clients, the index key a page ended at.
func Cursor(key []byte) string { return base64.RawURLEncoding.EncodeToString(key) }

// CursorKey decodes a cursor back to its index key; "" is the first page.
func CursorKey(cursor string) ([]byte, error) {
	key, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, ErrBadCursor
	}
	return key, nil
}

// SeekAfter positions c at the first key after key, oldest first: where the
// page after a cursor starts. An empty key starts at the beginning.
func SeekAfter(c *bolt.Cursor, key []byte) (k, v []byte) {
	k, v = c.Seek(key)
	if len(key) > 0 && bytes.Equal(k, key) {
		k, v = c.Next()
	}
	return k, v
}
