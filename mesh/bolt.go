package mesh

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OpenDB opens (or creates) a service's bbolt file. The file is disposable:
// deleted, it is rebuilt from the streams at the next start.
func OpenDB(path string) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// PutJSON stores v as JSON under key.
func PutJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put([]byte(key), data)
}

// GetJSON decodes the value under key into v and reports whether it was there.
func GetJSON(b *bolt.Bucket, key string, v any) bool {
	data := b.Get([]byte(key))
	if data == nil {
		return false
	}
	return json.Unmarshal(data, v) == nil
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
	var names [][]byte
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		names = append(names, append([]byte(nil), name...))
		return nil
	})
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
