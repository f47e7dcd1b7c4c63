package mesh_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/shopmesh/shopmesh/mesh"
	bolt "go.etcd.io/bbolt"
)

// A record that does not decode is an error the caller sees, never taken
// for a missing one: decided on as new, it would be written over.
func TestGetJSONTellsMissingFromCorrupt(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	type record struct{ Name string }
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("records"))
		if err != nil {
			return err
		}
		if err := mesh.PutJSON(b, "good", record{Name: "mug"}); err != nil {
			return err
		}
		return b.Put([]byte("corrupt"), []byte(`{"Name":`))
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key       string
		found     bool
		wantError bool
		name      string
	}{
		{key: "good", found: true, name: "mug"},
		{key: "missing"},
		{key: "corrupt", wantError: true},
	}
	for _, c := range cases {
		_ = db.View(func(tx *bolt.Tx) error {
			var r record
			found, err := mesh.GetJSON(tx.Bucket([]byte("records")), c.key, &r)
			if found != c.found || errors.Is(err, mesh.ErrCorrupt) != c.wantError || r.Name != c.name {
				t.Errorf("GetJSON(%s) = %v, %v (%+v); want found %v, error %v, name %q", c.key, found, err, r, c.found, c.wantError, c.name)
			}
			return nil
		})
	}
}
