package mesh

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shopmesh/shopmesh/mesh/subject"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// OpenDB opens (or creates) a service's bbolt file. The file is disposable:
// deleted, it is rebuilt from the streams at the next start.
//
// Unless durable is set, commits are not flushed to disk. That is most of
// the write path's speed, and it is safe because of what the file is: a
// process that is killed leaves every write with the operating system, and
// only a machine that stops can leave a torn file behind. So a marker next
// to the file records the boot it was opened in and is removed by CloseDB;
// a file still marked open from an earlier boot, whose writes may never
// have reached the disk, is removed here and rebuilt from the streams.
// dropped reports that.
func OpenDB(path string, durable bool) (db *bolt.DB, dropped bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, fmt.Errorf("open %s: %w", path, err)
	}
	// The file is locked first, so that a file another process has open is
	// never taken for a torn one and removed under it.
	db, err = openBolt(path)
	if err == nil || !errors.Is(err, errInUse) {
		if dropped, err = dropTorn(path, db, err); err != nil {
			return nil, false, err
		}
		if dropped {
			db, err = openBolt(path)
		}
	}
	if err != nil {
		return nil, false, err
	}
	db.NoSync = !durable
	if err := writeMarker(path, durable); err != nil {
		_ = db.Close()
		return nil, false, err
	}
	return db, dropped, nil
}

var errInUse = errors.New("in use by another process")

func openBolt(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is %w%s: is another shopmesh running on the same --data?", path, errInUse, holder(path))
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// CloseDB flushes the file to disk and closes it, and removes the marker:
// the file is whole whatever happens next.
func CloseDB(db *bolt.DB) error {
	path := db.Path() // empty once closed
	if err := db.Sync(); err != nil {
		_ = db.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Remove(markerPath(path))
}

func markerPath(path string) string { return path + ".open" }

// holder names the process that has the file open, as its marker says.
func holder(path string) string {
	data, err := os.ReadFile(markerPath(path))
	var m openMarker
	if err != nil || json.Unmarshal(data, &m) != nil || m.PID == 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", m.PID)
}

// openMarker is what the marker holds: the boot the file was opened in and
// whether its commits were flushed.
type openMarker struct {
	Boot    string `json:"boot"`
	Durable bool   `json:"durable"`
	PID     int    `json:"pid"`
}

func writeMarker(path string, durable bool) error {
	data, err := json.Marshal(openMarker{Boot: bootID(), Durable: durable, PID: os.Getpid()})
	if err != nil {
		return err
	}
	f, err := os.Create(markerPath(path))
	if err != nil {
		return fmt.Errorf("mark %s open: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync() // the marker must be on disk before any unflushed commit
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mark %s open: %w", path, err)
	}
	return nil
}

// dropTorn removes a file left open, with unflushed commits, by a boot that
// is over, or by one that cannot be told apart from this one; db (which
// may be nil, with the error that kept it from opening) is closed first.
// It reports whether it removed the file.
func dropTorn(path string, db *bolt.DB, openErr error) (bool, error) {
	data, err := os.ReadFile(markerPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return false, openErr
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", markerPath(path), err)
	}
	var m openMarker
	if json.Unmarshal(data, &m) == nil && (m.Durable || (m.Boot != "" && m.Boot == bootID())) {
		return false, openErr
	}
	if db != nil {
		_ = db.Close()
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove torn %s: %w", path, err)
	}
	return true, nil
}

// bootID names the running boot of the machine (Linux); elsewhere it is
// empty, and any file left open is rebuilt.
func bootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// PutJSON stores v as JSON under key.
func PutJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put([]byte(key), data)
}

// ErrCorrupt is local state that does not decode. Local state is rebuilt
// from the streams, so the way out is to rebuild it (shopmesh rebuild);
// until then the service refuses what needs the record, loudly, rather
// than decide on it as if it were missing.
var ErrCorrupt = errors.New("local state does not decode; rebuild the service's local state (shopmesh rebuild SERVICE)")

// GetJSON decodes the value under key into v and reports whether it was
// there. A value that does not decode is ErrCorrupt, not a missing record:
// read as "not found", a corrupt aggregate would be decided on as a new one
// and written over.
func GetJSON(b *bolt.Bucket, key string, v any) (bool, error) {
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%w: record %s: %v", ErrCorrupt, key, err)
	}
	return true, nil
}

func encodeUint(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func decodeUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Position returns the last sequence of stream applied to the file, read in
// tx so that a decision sees state and position at the same instant.
func Position(tx *bolt.Tx, stream string) uint64 {
	b := tx.Bucket(bucketPositions)
	if b == nil {
		return 0
	}
	return decodeUint(b.Get([]byte(stream)))
}

// Positions are where the entities a decision read stood in their stream,
// by entity ("orders.order.o1"), read in the transaction that read their
// state. Every message on an entity's subjects moves its position,
// including one the service does not understand. A store's snapshot
// embeds them, and so is a Snapshot: each event decided from it expects
// its entity still to stand where it was read.
type Positions map[string]uint64

// ReadPositions reads in tx where each entity stands; one with no message
// stands at 0.
func ReadPositions(tx *bolt.Tx, entities ...string) Positions {
	out := make(Positions, len(entities))
	b := tx.Bucket(bucketEntities)
	for _, e := range entities {
		if b != nil {
			out[e] = decodeUint(b.Get([]byte(e)))
		}
	}
	return out
}

// Expect implements Snapshot: the last message on the event's entity is
// the one the decision read (none, for an entity it did not read).
func (p Positions) Expect(s string) Expect {
	return Expect{Filter: subject.EntityFilter(s), Seq: p[subject.Entity(s)]}
}

var bucketMeta = []byte("_meta")

// PrepareState makes sure the named buckets exist in a service's file and
// that the file was built by this version of the service's projection. A
// file of another version (new buckets, a new index) is emptied, so the
// projection rebuilds it from the streams: local state is disposable.
func PrepareState(db *bolt.DB, version uint64, buckets ...[]byte) error {
	return db.Update(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta == nil || decodeUint(meta.Get([]byte("version"))) != version {
			if err := dropAll(tx); err != nil {
				return err
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("version"), encodeUint(version)); err != nil {
			return err
		}
		for _, n := range buckets {
			if _, err := tx.CreateBucketIfNotExists(n); err != nil {
				return fmt.Errorf("create bucket %s: %w", n, err)
			}
		}
		return nil
	})
}

func dropAll(tx *bolt.Tx) error {
	names, err := bucketNames(tx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := tx.DeleteBucket(n); err != nil {
			return err
		}
	}
	return nil
}

// bucketNames are the top-level buckets of tx, copied: a bucket cannot be
// deleted while ForEach walks them.
func bucketNames(tx *bolt.Tx) ([][]byte, error) {
	var names [][]byte
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		names = append(names, append([]byte(nil), name...))
		return nil
	})
	return names, err
}
