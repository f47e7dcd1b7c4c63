package paging_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/shopmesh/shopmesh/mesh/paging"
)

func TestCursorsAreOnlyThoseHandedOut(t *testing.T) {
	t.Parallel()
	key := []byte("\x00\x01order-7")
	if got, err := paging.CursorKey(paging.Cursor(key)); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if got, err := paging.CursorKey(""); err != nil || got != nil {
		t.Fatalf("empty cursor: %q %v, want the first page", got, err)
	}
	for _, bad := range []string{"!!!", "abc", base64.RawURLEncoding.EncodeToString(key), paging.Cursor(key) + "A"} {
		if _, err := paging.CursorKey(bad); !errors.Is(err, paging.ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", bad, err)
		}
	}
}
