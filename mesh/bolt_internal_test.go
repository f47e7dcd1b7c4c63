package mesh

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A state file is kept across a clean stop and a killed process, and
// rebuilt only when a stopped machine may have lost its unflushed commits.
func TestOpenDBDropsOnlyFilesTornByAStoppedMachine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		closeBy func(t *testing.T, db *bolt.DB)
		marker  string // written over the marker after closing, if set
		dropped bool
	}{
		{"clean stop", closeClean, "", false},
		{"process killed", closeKilled, "", false},
		{"machine stopped", closeKilled, `{"boot":"an-earlier-boot"}`, true},
		{"machine stopped, commits flushed", closeKilled, `{"boot":"an-earlier-boot","durable":true}`, false},
		{"unreadable marker", closeKilled, `{`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "s.db")
			db, _, err := OpenDB(path, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("b"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			}); err != nil {
				t.Fatal(err)
			}
			c.closeBy(t, db)
			if c.marker != "" {
				writeFile(t, markerPath(path), []byte(c.marker))
			}
			db, dropped, err := OpenDB(path, false)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = CloseDB(db) }()
			if dropped != c.dropped {
				t.Fatalf("dropped = %v, want %v", dropped, c.dropped)
			}
			if kept := hasKey(t, db); kept == c.dropped {
				t.Fatalf("data kept = %v after dropped = %v", kept, dropped)
			}
		})
	}
}

func closeClean(t *testing.T, db *bolt.DB) {
	path := db.Path()
	if err := CloseDB(db); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(markerPath(path)); !os.IsNotExist(err) {
		t.Fatalf("marker left after a clean close: %v", err)
	}
}

// closeKilled closes the file as a killed process would leave it: the
// operating system has every write, and the marker stays.
func closeKilled(t *testing.T, db *bolt.DB) {
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func hasKey(t *testing.T, db *bolt.DB) bool {
	var found bool
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("b")); b != nil {
			found = b.Get([]byte("k")) != nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// A file another process has open is refused with the process's pid, and
// never taken for a torn one, whatever its marker says (where there is no
// boot id to compare, every marker looks like another boot's).
func TestOpenDBNeverTakesAFileInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.db")
	db, _, err := OpenDB(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = CloseDB(db) }()
	_, _, err = OpenDB(path, false)
	if want := fmt.Sprintf("in use by another process (pid %d)", os.Getpid()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second open: %v, want it to say %q", err, want)
	}
	writeFile(t, markerPath(path), []byte(`{"boot":"an-earlier-boot"}`))
	if _, _, err := OpenDB(path, false); !errors.Is(err, errInUse) {
		t.Fatalf("second open: %v, want in use", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file in use was removed: %v", err)
	}
}
