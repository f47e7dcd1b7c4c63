package paging

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Page is one page of a list query. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// ErrBadCursor means a cursor was not one this service handed out.
var ErrBadCursor = errors.New("cursor is not valid")

// Cursor encodes, opaquely for clients, the index key a page ended at,
// with a checksum, so that a cursor this service did not hand out is
// refused rather than read as a position.
func Cursor(key []byte) string {
	return base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint32(slices.Clone(key), crc32.ChecksumIEEE(key)))
}

// CursorKey decodes a cursor back to its index key; "" is the first page.
func CursorKey(cursor string) ([]byte, error) {
	if cursor == "" {
		return nil, nil
	}
	data, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(data) < 4 {
		return nil, ErrBadCursor
	}
	key, sum := data[:len(data)-4], data[len(data)-4:]
	if binary.BigEndian.Uint32(sum) != crc32.ChecksumIEEE(key) {
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
