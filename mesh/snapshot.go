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
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh/observe"
	bolt "go.etcd.io/bbolt"
)

// A snapshot is a copy of one local-state file, with where it stood in
// each stream it projects, kept in the service's object store bucket. A
// replica that starts without its file (a new one, or one whose file was
// lost or torn) restores the latest snapshot and replays only the
// streams' tail, instead of the whole history (ADR 22).

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

// Snapshots is a service's snapshot bucket, looked up at each use: a
// bucket that could not be reached once is tried again the next time.
type Snapshots struct {
	JS     jetstream.JetStream
	Bucket string
	// OrphanAge is how old chunks that no snapshot names must be before
	// they are purged: an upload cut short (a stop, a crash) leaves them,
	// and so does the loser of two replicas uploading at once, while an
	// upload under way has chunks no snapshot names yet. 0 is an hour.
	OrphanAge time.Duration
}

// streamMark is where a snapshot stands in one stream: the stream's
// identity (its name and when it was created) and the last sequence
// applied.
type streamMark struct {
	Stream  string `json:"stream"`
	Created string `json:"created"`
	Seq     uint64 `json:"seq"`
}

// marks are where a file stands, and its generation: when it was last
// built from the first event. A snapshot of a later generation replaces
// one of an earlier generation, wherever they stand: a rebuild is done
// when the projection's code changed, and the earlier state must not come
// back with a restore.
type marks struct {
	streams    []streamMark
	generation int64
}

// Metadata keys of a snapshot.
const (
	metaStreams    = "streams"
	metaGeneration = "generation"
)

var (
	bucketGeneration = []byte("_generation")
	keyGeneration    = []byte("at")
)

// ErrForeignSnapshot is a snapshot that was not taken from these streams:
// a stream was created again since, or stands before the snapshot.
var ErrForeignSnapshot = errors.New("the snapshot is not from these streams")

// ErrCorruptSnapshot is a snapshot whose file is not what its metadata
// says.
var ErrCorruptSnapshot = errors.New("the snapshot's file does not match its metadata")

// marksOf reads, in tx, where the file stands in each of streams, the
// identity of each stream it was projected from, and its generation.
func marksOf(tx *bolt.Tx, streams []string) (marks, error) {
	origins := tx.Bucket(bucketOrigins)
	m := marks{generation: generationOf(tx)}
	for _, s := range streams {
		var created []byte
		if origins != nil {
			created = origins.Get([]byte(s))
		}
		if created == nil {
			return marks{}, fmt.Errorf("no origin recorded for stream %s", s)
		}
		m.streams = append(m.streams, streamMark{Stream: s, Created: string(created), Seq: Position(tx, s)})
	}
	return m, nil
}

func generationOf(tx *bolt.Tx) int64 {
	if b := tx.Bucket(bucketGeneration); b != nil {
		return int64(decodeUint(b.Get(keyGeneration)))
	}
	return 0
}

// newGeneration records, in a file that has applied nothing, that it is
// built from the first event now.
func newGeneration(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketGeneration)
	if err != nil {
		return err
	}
	return b.Put(keyGeneration, encodeUint(uint64(time.Now().UnixNano())))
}

// covers is how many events the marks cover in all.
func (m marks) covers() uint64 {
	var n uint64
	for _, s := range m.streams {
		n += s.Seq
	}
	return n
}

// replaces says whether a snapshot at m should replace the one kept: one
// of a later generation does, one of an earlier generation never does,
// and one of the same generation does when it stands ahead in some stream.
func (m marks) replaces(kept marks) bool {
	if m.generation != kept.generation {
		return m.generation > kept.generation
	}
	for _, s := range m.streams {
		i := slices.IndexFunc(kept.streams, func(k streamMark) bool { return k.Stream == s.Stream })
		if i < 0 || kept.streams[i].Created != s.Created || kept.streams[i].Seq < s.Seq {
			return true
		}
	}
	return false
}

func (m marks) metadata() (map[string]string, error) {
	data, err := json.Marshal(m.streams)
	if err != nil {
		return nil, err
	}
	return map[string]string{metaStreams: string(data), metaGeneration: strconv.FormatInt(m.generation, 10)}, nil
}

func readMarks(info *jetstream.ObjectInfo) (marks, error) {
	var m marks
	if err := json.Unmarshal([]byte(info.Metadata[metaStreams]), &m.streams); err != nil || len(m.streams) == 0 {
		return marks{}, fmt.Errorf("%w: snapshot %s has no stream marks", ErrCorruptSnapshot, info.Name)
	}
	m.generation, _ = strconv.ParseInt(info.Metadata[metaGeneration], 10, 64)
	return m, nil
}

// transferTimeout bounds an upload or a download of size bytes: a
// minute, and a second for every 4 MB. The client's own default, which
// applies to a context without a deadline, is 5 seconds for the whole
// transfer: a few hundred MB.
func transferTimeout(size uint64) time.Duration {
	return time.Minute + time.Duration(size/(4<<20))*time.Second
}

// callTimeout bounds each call about a snapshot that is not a transfer:
// with no deadline of its own, a call would get the client's default.
const callTimeout = 30 * time.Second

// kept is where the snapshot kept under name stands, if there is one.
func (s *Snapshots) kept(ctx context.Context, obs jetstream.ObjectStore, name string) (marks, *jetstream.ObjectInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := obs.GetInfo(ctx, name)
	if err != nil {
		return marks{}, nil, err
	}
	m, err := readMarks(info)
	return m, info, err
}

func (s *Snapshots) store(ctx context.Context) (jetstream.ObjectStore, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return s.JS.ObjectStore(ctx, s.Bucket)
}

// Write copies db, as one read transaction sees it, into the bucket under
// name, with where it stands in streams. It copies the file to disk first
// and uploads the copy, so the read transaction, which keeps bbolt from
// growing its map, is as short as a local copy. It writes nothing, and
// says so, when the bucket holds a snapshot it should not replace
// (marks.replaces), one another replica wrote, say.
func (s *Snapshots) Write(ctx context.Context, db *bolt.DB, name string, streams []string) (written bool, size uint64, err error) {
	obs, err := s.store(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	tmp := db.Path() + ".snapshot"
	defer os.Remove(tmp)
	var mine marks
	err = db.View(func(tx *bolt.Tx) error {
		if mine, err = marksOf(tx, streams); err != nil {
			return err
		}
		return tx.CopyFile(tmp, 0o600)
	})
	if err != nil {
		return false, 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if kept, _, err := s.kept(ctx, obs, name); err == nil && !mine.replaces(kept) {
		return false, 0, nil
	}
	info, err := s.upload(ctx, obs, name, tmp, mine)
	if err != nil {
		return false, 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	tidy, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := s.purgeOrphans(tidy, obs); err != nil {
		return true, info.Size, fmt.Errorf("snapshot %s taken; its bucket not tidied: %w", name, err)
	}
	return true, info.Size, nil
}

func (s *Snapshots) upload(ctx context.Context, obs jetstream.ObjectStore, name, path string, m marks) (*jetstream.ObjectInfo, error) {
	meta, err := m.metadata()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout(uint64(fi.Size())))
	defer cancel()
	return obs.Put(ctx, jetstream.ObjectMeta{
		Name:        name,
		Description: fmt.Sprintf("local state %s, %d events applied", name, m.covers()),
		Metadata:    meta,
	}, f)
}

// purgeOrphans removes chunks that no snapshot names and that are older
// than OrphanAge. Replacing a snapshot purges the chunks of the one it
// replaced, but not those of an upload cut short, nor of an upload that
// another replica's replaced while it ran.
func (s *Snapshots) purgeOrphans(ctx context.Context, obs jetstream.ObjectStore) error {
	age := s.OrphanAge
	if age == 0 {
		age = time.Hour
	}
	named := map[string]bool{}
	objects, err := obs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return err
	}
	for _, o := range objects {
		named[chunkSubject(s.Bucket, o.NUID)] = true
	}
	stream, err := s.JS.Stream(ctx, "OBJ_"+s.Bucket)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(chunkSubject(s.Bucket, ">")))
	if err != nil {
		return err
	}
	for subject := range info.State.Subjects {
		if named[subject] {
			continue
		}
		last, err := stream.GetLastMsgForSubject(ctx, subject)
		if err != nil || time.Since(last.Time) < age {
			continue // gone meanwhile, or perhaps an upload under way
		}
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			return err
		}
	}
	return nil
}

func chunkSubject(bucket, nuid string) string { return "$O." + bucket + ".C." + nuid }

// Restore writes the snapshot name to path, where no file is, and reports
// whether it did. It restores nothing (false, nil) when there is no
// snapshot, or when a file appeared at path meanwhile (another process on
// the same directory). It refuses one taken from other streams than the
// server's (ErrForeignSnapshot), one whose content does not match its
// digest, or one whose file disagrees with its marks
// (ErrCorruptSnapshot); the caller then builds the file from the streams.
// The file appears at path whole, or not at all: it is written beside it,
// flushed, and linked in place.
func (s *Snapshots) Restore(ctx context.Context, name, path string) (bool, error) {
	obs, err := s.store(ctx)
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	tmp := path + ".restoring"
	// A replica that snapshots meanwhile replaces the object, and purges
	// the chunks being read: read the new one.
	for attempt := 1; ; attempt++ {
		nuid, err := s.restoreTo(ctx, obs, name, tmp)
		if err == nil {
			break
		}
		_ = os.Remove(tmp)
		if nuid == "" || attempt == 3 || !s.replaced(ctx, obs, name, nuid) {
			if errors.Is(err, jetstream.ErrObjectNotFound) {
				return false, nil
			}
			return false, fmt.Errorf("restore %s: %w", name, err)
		}
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("restore %s: %w", name, err)
	}
	return true, syncDir(filepath.Dir(path))
}

// restoreTo checks the snapshot and writes it to path, and returns the
// NUID of the object it read.
func (s *Snapshots) restoreTo(ctx context.Context, obs jetstream.ObjectStore, name, path string) (string, error) {
	m, info, err := s.kept(ctx, obs, name)
	if err != nil {
		return "", err
	}
	check, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := sameStreams(check, s.JS, m.streams); err != nil {
		return "", err
	}
	_ = os.Remove(path) // left by a restore that stopped half way
	if err := download(ctx, obs, info, path); err != nil {
		return info.NUID, err
	}
	return info.NUID, matchesMarks(path, m)
}

func (s *Snapshots) replaced(ctx context.Context, obs jetstream.ObjectStore, name, nuid string) bool {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := obs.GetInfo(ctx, name)
	return err == nil && info.NUID != nuid
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
func download(ctx context.Context, obs jetstream.ObjectStore, info *jetstream.ObjectInfo, path string) error {
	ctx, cancel := context.WithTimeout(ctx, transferTimeout(info.Size))
	defer cancel()
	r, err := obs.Get(ctx, info.Name)
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
func matchesMarks(path string, want marks) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%w: no bbolt file: %v", ErrCorruptSnapshot, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		streams := make([]string, len(want.streams))
		for i, m := range want.streams {
			streams[i] = m.Stream
		}
		have, err := marksOf(tx, streams)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
		}
		if !slices.Equal(have.streams, want.streams) || have.generation != want.generation {
			return fmt.Errorf("%w: the file stands at %v, its metadata says %v", ErrCorruptSnapshot, have, want)
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
const DefaultSnapshotMin = 10_000

// snapshotMaxTail is the most events a projection applies between two
// snapshots, however much the last one covers: what a restoring replica
// replays at most.
const snapshotMaxTail = 1_000_000

// snapshotDue says whether a projection that has applied since events
// after a snapshot that covered covered should take another. It takes one
// when what came after has grown to a quarter of what the snapshot holds,
// so that copying the file is a fixed share of the work of applying, and
// at least every snapshotMaxTail events.
func snapshotDue(since, covered, min uint64) bool {
	if min == 0 {
		min = DefaultSnapshotMin
	}
	return since >= min && (since >= covered/4 || since >= snapshotMaxTail)
}

// snapshotRetry is how long a projection waits after a snapshot failed
// before it tries again: each try copies the whole file.
const snapshotRetry = time.Minute

// startSnapshots learns where the snapshot kept in the bucket stands, so
// that the next one is due after what it covers, not after what this
// start found: a replica restarted often would otherwise never take one.
// One of another generation, or none, covers nothing.
func (p *Projection) startSnapshots(ctx context.Context) {
	if p.snapshots == nil {
		return
	}
	var mine marks
	if err := p.db.View(func(tx *bolt.Tx) (err error) {
		mine, err = marksOf(tx, p.streams)
		return err
	}); err != nil {
		return
	}
	obs, err := p.snapshots.store(ctx)
	if err != nil {
		return
	}
	kept, _, err := p.snapshots.kept(ctx, obs, snapshotName(p.db.Path()))
	if err == nil && kept.generation == mine.generation {
		p.covered.Store(kept.covers())
	}
}

// maybeSnapshot takes a snapshot of the projection's file, in the
// background, when one is due, the projection has caught up with its
// streams (one taken while replaying history would soon be stale), and
// its views have caught up with what it applied (the outbox, which a
// restore publishes again, is then nearly empty).
func (p *Projection) maybeSnapshot(ctx context.Context, positions map[string]uint64) {
	now, covered := total(positions), p.covered.Load()
	if p.snapshots == nil || p.busy.Load() || now < covered || !snapshotDue(now-covered, covered, p.SnapshotMin) ||
		time.Now().UnixNano() < p.retryAt.Load() || !p.Ready() || !p.viewsCaughtUp() {
		return
	}
	p.busy.Store(true)
	p.snapshotting.Go(func() {
		defer p.busy.Store(false)
		start := time.Now()
		written, size, err := p.snapshots.Write(ctx, p.db, snapshotName(p.db.Path()), p.streams)
		if err == nil { // taken, or one as good is kept already
			p.covered.Store(now)
		}
		if written {
			p.log.Info().Uint64("bytes", size).Uint64("events", now).Float64("took_ms", observe.Millis(time.Since(start))).
				Msg("snapshot of the local state taken")
			p.metrics.ObserveSnapshot(p.service, "taken")
		}
		if err != nil && ctx.Err() == nil {
			p.retryAt.Store(time.Now().Add(snapshotRetry).UnixNano())
			p.log.Warn().Err(err).Msg("snapshot not taken; tried again in a minute")
		}
	})
}

// viewsCaughtUp says whether every view of what the projection applied
// is published.
func (p *Projection) viewsCaughtUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for stream, seq := range p.applied {
		if p.visible[stream] < seq {
			return false
		}
	}
	return true
}

// total is how many events positions cover in all.
func total(positions map[string]uint64) uint64 {
	var n uint64
	for _, seq := range positions {
		n += seq
	}
	return n
}
