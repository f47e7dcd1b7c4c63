package mesh_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/shopmesh/shopmesh/mesh"
)

func TestCursorsAreOnlyThoseHandedOut(t *testing.T) {
	t.Parallel()
	key := []byte("\x00\x01order-7")
	if got, err := mesh.CursorKey(mesh.Cursor(key)); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if got, err := mesh.CursorKey(""); err != nil || got != nil {
		t.Fatalf("empty cursor: %q %v, want the first page", got, err)
	}
	for _, bad := range []string{"!!!", "abc", base64.RawURLEncoding.EncodeToString(key), mesh.Cursor(key) + "A"} {
		if _, err := mesh.CursorKey(bad); !errors.Is(err, mesh.ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", bad, err)
		}
	}
}
