package mesh

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A replica that replays its streams writes a view of history again only
// if the bucket would still hold it: one older than the bucket's TTL was
// let go, and putting it back would make the bucket hold every entity
// ever again.
func TestViewsLetGoOnlyHistoryOlderThanTheirTTL(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	old, recent := time.Now().Add(-2*day).UnixNano(), time.Now().Add(-time.Hour).UnixNano()
	tests := map[string]struct {
		ttl   time.Duration
		rec   viewRecord
		letGo bool
	}{
		"history older than the TTL":        {ttl: day, rec: viewRecord{history: true, At: old}, letGo: true},
		"history within the TTL":            {ttl: day, rec: viewRecord{history: true, At: recent}},
		"a new view, however old its time":  {ttl: day, rec: viewRecord{At: old}},
		"a bucket that keeps every view":    {rec: viewRecord{history: true, At: old}},
		"from an outbox of before, no time": {ttl: day, rec: viewRecord{history: true}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v := &Views{TTL: tt.ttl}
			if got := v.letGo(tt.rec); got != tt.letGo {
				t.Fatalf("letGo = %v, want %v", got, tt.letGo)
			}
		})
	}
}

func TestViewKeysAreWhatTheBucketTakes(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"pay_o1": true, "01JX-9/a=b.c": true,
		"": false, ".a": false, "a.": false, "a..b": false, "a b": false, "a*": false, "a>": false, "é": false,
	}
	for key, valid := range tests {
		if got := validViewKey(key); got != valid {
			t.Errorf("validViewKey(%q) = %v, want %v", key, got, valid)
		}
	}
}

// The outbox keeps when each view's event was stored, so that a view
// published again at start is let go as it would have been; the bucket
// never gets that time.
func TestTheOutboxKeepsWhenAViewsEventWasStored(t *testing.T) {
	t.Parallel()
	stored := time.Now().Add(-48 * time.Hour)
	db, _, err := OpenDB(filepath.Join(t.TempDir(), "s.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = CloseDB(db) }()
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketOutbox); err != nil {
			return err
		}
		_, err := toOutbox(tx, map[string]changedView{"k": {viewStep: viewStep{seq: 7, value: 1, at: unixNano(stored)}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &Projection{db: db}
	views, err := p.readOutbox()
	if err != nil {
		t.Fatal(err)
	}
	rec := views["k"]
	if rec.At != stored.UnixNano() || !rec.history {
		t.Fatalf("from the outbox: %+v; want the time stored and marked history", rec)
	}
	if v := (&Views{TTL: 24 * time.Hour}); !v.letGo(rec) {
		t.Fatal("a view from the outbox older than the TTL was not let go")
	}
}
