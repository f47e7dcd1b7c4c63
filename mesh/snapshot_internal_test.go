package mesh

import "testing"

func TestSnapshotDue(t *testing.T) {
	for _, c := range []struct {
		since, covered, min uint64
		due                 bool
	}{
		{since: 9_999, covered: 0, min: 0, due: false},        // fewer than the default 10,000
		{since: 10_000, covered: 0, min: 0, due: true},        // a first snapshot
		{since: 50_000, covered: 200_000, min: 0, due: true},  // a quarter of what it covers
		{since: 50_000, covered: 200_004, min: 0, due: false}, // less than a quarter
		{since: 999_999, covered: 10_000_000, min: 0, due: false},
		{since: 1_000_000, covered: 10_000_000, min: 0, due: true}, // a bounded tail
		{since: 5, covered: 10, min: 5, due: true},
		{since: 4, covered: 0, min: 5, due: false},
	} {
		if got := snapshotDue(c.since, c.covered, c.min); got != c.due {
			t.Errorf("snapshotDue(%d, %d, %d) = %v, want %v", c.since, c.covered, c.min, got, c.due)
		}
	}
}
