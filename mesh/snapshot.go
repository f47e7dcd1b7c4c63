package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh/observe"
	bolt "go.etcd.io/bbolt"
)

// A snapshot is a copy of one local-state file, with where it stood in
// each stream it projects, kept in the service's object store bucket. A
// replica that starts without its file (a new one, or one whose file was
// lost) restores the latest snapshot and replays only the streams' tail,
// instead of the whole history (ADR 22).

// SnapshotBucket is the object store bucket of service's snapshots.
func SnapshotBucket(service string) string { return service + "-snapshots" }

// ProvisionSnapshots creates service's snapshot bucket. A shop in memory
// has none: its streams die with it, and so would any snapshot.
func ProvisionSnapshots(ctx context.Context, js jetstream.JetStream, st Storage, service string) error {
	if st.Memory {
		return nil
	}
	_, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      SnapshotBucket(service),
		Description: "snapshots of the " + service + " service's local state (ADR 22)",
		Storage:     jetstream.FileStorage,
		Replicas:    st.replicas(),
		Compression: true,
	})
	if err != nil {
		return fmt.Errorf("provision snapshots of %s: %w", service, err)
	}
	return nil
}

// streamMark is where a snapshot stands in one stream: the stream's
// identity (its name and when it was created) and the last sequence
// applied.
type streamMark struct {
	Stream  string `json:"stream"`
	Created string `json:"created"`
	Seq     uint64 `json:"seq"`
}

// snapshotStreams is the metadata key of a snapshot's stream marks.
const snapshotStreams = "streams"

// marksOf reads, in tx, where the file stands in each of streams, and the
// identity of each stream it was projected from.
func marksOf(tx *bolt.Tx, streams []string) ([]streamMark, error) {
	origins := tx.Bucket(bucketOrigins)
	marks := make([]streamMark, 0, len(streams))
	for _, s := range streams {
		var created []byte
		if origins != nil {
			created = origins.Get([]byte(s))
		}
		if created == nil {
			return nil, fmt.Errorf("no origin recorded for stream %s", s)
		}
		marks = append(marks, streamMark{Stream: s, Created: string(created), Seq: Position(tx, s)})
	}
	return marks, nil
}

// covers is how many events the marks cover in all.
func covers(marks []streamMark) uint64 {
	var n uint64
	for _, m := range marks {
		n += m.Seq
	}
	return n
}

// behind reports whether marks stand nowhere past have, stream by stream:
// a snapshot that is not ahead of the one kept is not worth writing.
func behind(marks, have []streamMark) bool {
	for _, m := range marks {
		i := slices.IndexFunc(have, func(h streamMark) bool { return h.Stream == m.Stream })
		if i < 0 || have[i].Created != m.Created || have[i].Seq < m.Seq {
			return false
		}
	}
	return true
}

func readMarks(info *jetstream.ObjectInfo) ([]streamMark, error) {
	var marks []streamMark
	if err := json.Unmarshal([]byte(info.Metadata[snapshotStreams]), &marks); err != nil || len(marks) == 0 {
		return nil, fmt.Errorf("snapshot %s has no stream marks", info.Name)
	}
	return marks, nil
}

// WriteSnapshot copies db, as one read transaction sees it, into obs under
// name, with where it stands in streams. It copies the file to disk first
// and uploads the copy, so the read transaction, which keeps bbolt from
// growing its map, is as short as a local copy. It writes nothing, and
// says so, when obs already holds a snapshot at least as far along (one
// another replica wrote).
func WriteSnapshot(ctx context.Context, db *bolt.DB, obs jetstream.ObjectStore, name string, streams []string) (written bool, size uint64, err error) {
	tmp := db.Path() + ".snapshot"
	defer os.Remove(tmp)
	var marks []streamMark
	err = db.View(func(tx *bolt.Tx) error {
		if marks, err = marksOf(tx, streams); err != nil {
			return err
		}
		return tx.CopyFile(tmp, 0o600)
	})
	if err != nil {
		return false, 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if have, err := obs.GetInfo(ctx, name); err == nil {
		if kept, err := readMarks(have); err == nil && behind(marks, kept) {
			return false, 0, nil
		}
	}
	data, err := json.Marshal(marks)
	if err != nil {
		return false, 0, err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return false, 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	defer f.Close()
	info, err := obs.Put(ctx, jetstream.ObjectMeta{
		Name:        name,
		Description: fmt.Sprintf("local state %s, %d events applied", name, covers(marks)),
		Metadata:    map[string]string{snapshotStreams: string(data)},
	}, f)
	if err != nil {
		return false, 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	return true, info.Size, nil
}

// ErrForeignSnapshot is a snapshot that was not taken from these streams:
// a stream was created again since, or stands before the snapshot.
var ErrForeignSnapshot = errors.New("the snapshot is not from these streams")

// RestoreSnapshot writes the snapshot name of obs to path, where no file
// is, and reports whether it did. It restores nothing (false, nil) when
// there is no snapshot. It refuses one taken from other streams than the
// server's (ErrForeignSnapshot), one whose content does not match its
// digest, or one whose file disagrees with its own marks; the caller then
// builds the file from the streams. The file appears at path whole, or
// not at all: it is written beside it, flushed and renamed.
func RestoreSnapshot(ctx context.Context, js jetstream.JetStream, obs jetstream.ObjectStore, name, path string) (bool, error) {
	info, err := obs.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	marks, err := readMarks(info)
	if err != nil {
		return false, err
	}
	if err := sameStreams(ctx, js, marks); err != nil {
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	tmp := path + ".restoring"
	_ = os.Remove(tmp) // left by a restore that stopped half way
	if err := download(ctx, obs, name, tmp); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	if err := matchesMarks(tmp, marks); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	return true, syncDir(filepath.Dir(path))
}

// sameStreams checks that every stream of marks is the one the snapshot
// was taken from, and holds at least what the snapshot applied.
func sameStreams(ctx context.Context, js jetstream.JetStream, marks []streamMark) error {
	for _, m := range marks {
		s, err := js.Stream(ctx, m.Stream)
		if err != nil {
			return fmt.Errorf("stream %s: %w", m.Stream, err)
		}
		info := s.CachedInfo()
		if created := info.Created.UTC().Format(time.RFC3339Nano); created != m.Created {
			return fmt.Errorf("%w: it was taken from the %s stream created at %s; this one was created at %s",
				ErrForeignSnapshot, m.Stream, m.Created, created)
		}
		if info.State.LastSeq < m.Seq {
			return fmt.Errorf("%w: it applied %s up to %d, but the stream ends at %d",
				ErrForeignSnapshot, m.Stream, m.Seq, info.State.LastSeq)
		}
	}
	return nil
}

// download writes the object to path and flushes it. The object store
// checks the content against its digest as the last byte is read: a
// snapshot altered or torn in the bucket fails here.
func download(ctx context.Context, obs jetstream.ObjectStore, name, path string) error {
	r, err := obs.Get(ctx, name)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// matchesMarks opens the restored file and checks that it stands where its
// metadata says: marks written apart from the file cannot pass off one
// file as another.
func matchesMarks(path string, marks []streamMark) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("the snapshot is no bbolt file: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		streams := make([]string, len(marks))
		for i, m := range marks {
			streams[i] = m.Stream
		}
		have, err := marksOf(tx, streams)
		if err != nil {
			return err
		}
		if !slices.Equal(have, marks) {
			return fmt.Errorf("the file stands at %v, its metadata says %v", have, marks)
		}
		return nil
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}

// snapshotName is the object a file's snapshots are kept under: the
// file's name without its extension ("orders", "orders-timeline").
func snapshotName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// DefaultSnapshotMin is the fewest events a projection applies between
// two snapshots of its file.
const DefaultSnapshotMin = 50_000

// snapshotDue says whether a projection that has applied since events
// after a snapshot that covered covered should take another. It takes one
// when what came after has grown to a quarter of what the snapshot holds,
// so the work of copying the file stays a fixed share of the work of
// applying, however long the history; and at least every 20 times min
// events, so a replica that restores replays at most that many.
func snapshotDue(since, covered, min uint64) bool {
	if min == 0 {
		min = DefaultSnapshotMin
	}
	return since >= min && (since >= covered/4 || since >= 20*min)
}

// maybeSnapshot takes a snapshot of the projection's file, in the
// background, when one is due and the projection has caught up with its
// streams (one taken while replaying history would soon be stale).
func (p *Projection) maybeSnapshot(ctx context.Context, positions map[string]uint64) {
	now := total(positions)
	if p.snapshots == nil || p.busy.Load() || !snapshotDue(now-p.covered, p.covered, p.SnapshotMin) || !p.Ready() {
		return
	}
	p.busy.Store(true)
	p.covered = now
	p.snapshotting.Go(func() {
		defer p.busy.Store(false)
		start := time.Now()
		written, size, err := WriteSnapshot(ctx, p.db, p.snapshots, snapshotName(p.db.Path()), p.streams)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn().Err(err).Msg("snapshot not taken; the next one is tried later")
		case written:
			p.log.Info().Uint64("bytes", size).Uint64("events", now).Float64("took_ms", observe.Millis(time.Since(start))).
				Msg("snapshot of the local state taken")
			p.metrics.ObserveSnapshot(p.service, "taken")
		}
	})
}

// total is how many events positions cover in all.
func total(positions map[string]uint64) uint64 {
	var n uint64
	for _, seq := range positions {
		n += seq
	}
	return n
}
