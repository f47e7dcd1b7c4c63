package mesh

import (
	"testing"
	"time"
)

// A replica that replays its streams writes a view of history again only
// if the bucket would still hold it: one older than the bucket's TTL was
// let go, and putting it back would make the bucket hold every entity
// ever again.
func TestViewsLetGoOnlyHistoryOlderThanTheirTTL(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	old, recent := time.Now().Add(-2*day), time.Now().Add(-time.Hour)
	tests := map[string]struct {
		ttl   time.Duration
		rec   viewRecord
		letGo bool
	}{
		"history older than the TTL":       {ttl: day, rec: viewRecord{history: true, at: old}, letGo: true},
		"history within the TTL":           {ttl: day, rec: viewRecord{history: true, at: recent}},
		"a new view, however old its time": {ttl: day, rec: viewRecord{at: old}},
		"a bucket that keeps every view":   {rec: viewRecord{history: true, at: old}},
		"from the outbox, time not known":  {ttl: day, rec: viewRecord{history: true}},
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
