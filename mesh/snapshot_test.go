package mesh_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	bolt "go.etcd.io/bbolt"
)

// counterPlan is the counters as a service of a node: its stream, and
// (provisioned with it) its snapshot bucket.
var counterPlan = mesh.Plan{Service: "test", Writes: mesh.StreamSpec{Name: testStream, Subjects: []string{"test.>"}}}

// counterService is the counters projected by a node's runtime: the path
// a service takes, snapshots included.
type counterService struct {
	rt *mesh.Runtime
	h  harness
	// openedAt is where the file stood when the runtime opened it, before
	// its projection applied anything.
	openedAt uint64
}

func openCounters(t *testing.T, n *mesh.Node) *counterService {
	t.Helper()
	c := &counterService{rt: meshtest.Open(t, n, counterPlan)}
	_, w, err := mesh.Project(meshtest.Context(t), c.rt, func(db *bolt.DB, _ *mesh.Views) (counters, error) {
		c.h.db = db
		return counters{}, db.View(func(tx *bolt.Tx) error {
			c.openedAt = mesh.Position(tx, testStream)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	c.h.w = w
	return c
}

// incrementAll adds one to each of the first n counters, and returns the
// last event's sequence.
func (c *counterService) incrementAll(t *testing.T, n int) uint64 {
	t.Helper()
	var last uint64
	for i := range n {
		var err error
		if last, err = c.h.increment(meshtest.Context(t), "", cause(i)); err != nil {
			t.Fatal(err)
		}
	}
	return last
}

// snapshotMarks reads where the snapshot of the counters stands.
func snapshotMarks(ctx context.Context, obs jetstream.ObjectStore) (uint64, string, error) {
	info, err := obs.GetInfo(ctx, "test")
	if err != nil {
		return 0, "", err
	}
	var marks []struct {
		Seq     uint64
		Created string
	}
	if err := json.Unmarshal([]byte(info.Metadata["streams"]), &marks); err != nil || len(marks) != 1 {
		return 0, "", errors.New("no marks")
	}
	return marks[0].Seq, marks[0].Created, nil
}

// bucketOf is the counters' snapshot bucket, as the runtime uses it.
func bucketOf(js jetstream.JetStream) *mesh.Snapshots {
	return &mesh.Snapshots{JS: js, Bucket: mesh.SnapshotBucket("test")}
}

func snapshots(t *testing.T, js jetstream.JetStream) jetstream.ObjectStore {
	t.Helper()
	obs, err := js.ObjectStore(meshtest.Context(t), mesh.SnapshotBucket("test"))
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

// snapshotAt waits for the node's snapshot of the counters to stand at
// seq or beyond, and returns where it stands.
func snapshotAt(t *testing.T, js jetstream.JetStream, seq uint64) uint64 {
	t.Helper()
	obs := snapshots(t, js)
	var at uint64
	meshtest.Eventually(t, 10*time.Second, func() error {
		var err error
		if at, _, err = snapshotMarks(meshtest.Context(t), obs); err == nil && at < seq {
			err = fmt.Errorf("the snapshot stands at %d, before %d", at, seq)
		}
		return err
	})
	return at
}

// A projection takes a snapshot of its file once it has applied enough;
// a replica that starts without its file restores it and replays only
// what came after.
func TestAReplicaWithoutItsFileRestoresTheSnapshotAndReplaysTheTail(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	n.SnapshotMin = 10
	c := openCounters(t, n)
	c.incrementAll(t, 12)
	snapped := snapshotAt(t, n.JS, 10) // taken after the tenth, as SnapshotMin says
	last := c.incrementAll(t, 3)       // the tail, after the snapshot
	c.rt.Stop()
	// The replica loses its file: a new machine, a new volume.
	if err := os.Remove(n.DBPath("test")); err != nil {
		t.Fatal(err)
	}

	again := openCounters(t, n)
	if again.openedAt != snapped {
		t.Fatalf("the file opened at %d, want the snapshot's %d", again.openedAt, snapped)
	}
	if err := again.h.w.CatchUp(meshtest.Context(t)); err != nil {
		t.Fatal(err)
	}
	if at := position(again.h.db); at != last {
		t.Fatalf("caught up to %d, want %d", at, last)
	}
	for i := range 12 {
		want := 1
		if i < 3 {
			want = 2
		}
		if st := readCounter(again.h.db, cause(i)); st.Value != want {
			t.Fatalf("counter %d is %+v after the restore and the tail, want %d", i, st, want)
		}
	}
}

func position(db *bolt.DB) uint64 {
	var at uint64
	_ = db.View(func(tx *bolt.Tx) error {
		at = mesh.Position(tx, testStream)
		return nil
	})
	return at
}

// snapshotted is a node whose counters have a snapshot, stopped, with
// their file gone, so that the next start restores it; and the last
// event written.
func snapshotted(t *testing.T) (*mesh.Node, uint64) {
	t.Helper()
	n := meshtest.Node(t)
	n.SnapshotMin = 5
	c := openCounters(t, n)
	last := c.incrementAll(t, 6)
	snapshotAt(t, n.JS, 5)
	c.rt.Stop()
	if err := os.Remove(n.DBPath("test")); err != nil {
		t.Fatal(err)
	}
	return n, last
}

// A snapshot of a stream that was deleted and created again since is
// refused: the new stream's sequences mean other events. The file is
// built from the stream as it is.
func TestASnapshotOfAnotherStreamIsRefused(t *testing.T) {
	t.Parallel()
	n, _ := snapshotted(t)
	ctx := meshtest.Context(t)
	if err := n.JS.DeleteStream(ctx, testStream); err != nil {
		t.Fatal(err)
	}
	newStream(t, n.JS)
	path := filepath.Join(t.TempDir(), "test.db")
	restored, err := bucketOf(n.JS).Restore(ctx, "test", path)
	if restored || !errors.Is(err, mesh.ErrForeignSnapshot) {
		t.Fatalf("restored %v, %v; want the snapshot refused as foreign", restored, err)
	}
	noFile(t, path)
	c := openCounters(t, n) // built from the new, empty stream
	if c.openedAt != 0 || readCounter(c.h.db, cause(0)).Value != 0 {
		t.Fatalf("a foreign snapshot was applied: opened at %d", c.openedAt)
	}
}

// A snapshot whose content does not match its digest (altered or torn in
// the bucket) is refused, and leaves no file behind, half written or whole.
func TestACorruptSnapshotIsRefused(t *testing.T) {
	t.Parallel()
	n, last := snapshotted(t)
	ctx := meshtest.Context(t)
	rewriteMeta(t, n.JS, func(info *jetstream.ObjectInfo) {
		sum := sha256.Sum256([]byte("something else"))
		info.Digest = "SHA-256=" + base64.URLEncoding.EncodeToString(sum[:])
	})
	path := n.DBPath("test")
	restored, err := bucketOf(n.JS).Restore(ctx, "test", path)
	if restored || !errors.Is(err, jetstream.ErrDigestMismatch) {
		t.Fatalf("restored %v, %v; want a digest mismatch", restored, err)
	}
	noFile(t, path)
	noFile(t, path+".restoring")
	c := openCounters(t, n) // built from the stream instead
	if c.openedAt != 0 {
		t.Fatalf("opened at %d, want a file built from the stream", c.openedAt)
	}
	if err := c.h.w.CatchUp(ctx); err != nil || position(c.h.db) != last {
		t.Fatalf("built to %d (%v), want %d", position(c.h.db), err, last)
	}
}

// Marks that say a file stands elsewhere than it does (written apart from
// it) are refused: a file is restored only where it really stands.
func TestASnapshotWhoseMarksLieIsRefused(t *testing.T) {
	t.Parallel()
	n, _ := snapshotted(t)
	ctx := meshtest.Context(t)
	obs := snapshots(t, n.JS)
	seq, created, err := snapshotMarks(ctx, obs)
	if err != nil {
		t.Fatal(err)
	}
	marks := fmt.Sprintf(`[{"stream":%q,"created":%q,"seq":%d}]`, testStream, created, seq-1)
	if err := obs.UpdateMeta(ctx, "test", jetstream.ObjectMeta{Name: "test", Metadata: map[string]string{"streams": marks}}); err != nil {
		t.Fatal(err)
	}
	path := n.DBPath("test")
	if restored, err := bucketOf(n.JS).Restore(ctx, "test", path); restored || !errors.Is(err, mesh.ErrCorruptSnapshot) {
		t.Fatalf("restored %v, %v; want marks that disagree with the file refused", restored, err)
	}
	noFile(t, path)
}

// A restore that stopped half way (the process killed while it downloaded)
// left a partial file beside the state's: the next one starts again, and
// the state's own path never held a partial file.
func TestARestoreThatStoppedHalfWayIsDoneAgain(t *testing.T) {
	t.Parallel()
	n, last := snapshotted(t)
	path := n.DBPath("test")
	if err := os.WriteFile(path+".restoring", []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := openCounters(t, n)
	if c.openedAt == 0 {
		t.Fatal("the snapshot was not restored")
	}
	noFile(t, path+".restoring")
	if err := c.h.w.CatchUp(meshtest.Context(t)); err != nil || position(c.h.db) != last {
		t.Fatalf("caught up to %d (%v), want %d", position(c.h.db), err, last)
	}
}

// A replica writes no snapshot behind the one kept (another replica's,
// say): the bucket only moves forward. A file built again from the first
// event (shopmesh rebuild) replaces it though, wherever it stands: the
// state before the rebuild must not come back with a restore.
func TestOnlyASnapshotAheadOrOfALaterBuildReplacesTheOneKept(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	if err := mesh.ProvisionSnapshots(ctx, js, mesh.Storage{}, "test"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ahead := startHarness(t, js, filepath.Join(dir, "a", "test.db"))
	if _, err := ahead.increment(ctx, "one", "c"); err != nil {
		t.Fatal(err)
	}
	// A second replica's file, of the same build, standing at 1.
	behindPath := filepath.Join(dir, "b", "test.db")
	if err := os.MkdirAll(filepath.Dir(behindPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ahead.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(behindPath, 0o600) }); err != nil {
		t.Fatal(err)
	}
	if _, err := ahead.increment(ctx, "two", "c"); err != nil {
		t.Fatal(err)
	}
	if written, _, err := bucketOf(js).Write(ctx, ahead.db, "test", []string{testStream}); !written || err != nil {
		t.Fatalf("written %v, %v", written, err)
	}
	behind, _, err := mesh.OpenDB(behindPath, false)
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.CloseDB(behind)
	if written, _, err := bucketOf(js).Write(ctx, behind, "test", []string{testStream}); written || err != nil {
		t.Fatalf("a snapshot behind the one kept: written %v, %v", written, err)
	}
	if written, _, err := bucketOf(js).Write(ctx, ahead.db, "test", []string{testStream}); written || err != nil {
		t.Fatalf("a snapshot no further than the one kept: written %v, %v", written, err)
	}
	obs := snapshots(t, js)
	info, err := obs.GetInfo(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}

	rebuilt := startHarness(t, js, filepath.Join(dir, "c", "test.db"))
	if err := rebuilt.proj.CatchUpAll(ctx); err != nil {
		t.Fatal(err)
	}
	if written, _, err := bucketOf(js).Write(ctx, rebuilt.db, "test", []string{testStream}); !written || err != nil {
		t.Fatalf("a snapshot of a file built again: written %v, %v", written, err)
	}
	again, err := obs.GetInfo(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if again.Metadata["generation"] == info.Metadata["generation"] {
		t.Fatal("the snapshot of the file built again did not replace the one before")
	}
	if seq, _, _ := snapshotMarks(ctx, obs); seq != 2 {
		t.Fatalf("the snapshot kept stands at %d, want 2", seq)
	}
}

// A restore takes as long as its download needs: the client's default
// timeout (5 s), which covers a call made without a deadline, would cut a
// large snapshot short. Here it is a millisecond.
func TestARestoreHasTheTimeItsDownloadNeeds(t *testing.T) {
	t.Parallel()
	n, last := snapshotted(t)
	nc := n.JS.Conn()
	impatient, err := jetstream.New(nc, jetstream.WithDefaultTimeout(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	path := n.DBPath("test")
	restored, err := bucketOf(impatient).Restore(context.Background(), "test", path)
	if !restored || err != nil {
		t.Fatalf("restored %v, %v", restored, err)
	}
	c := openCounters(t, n)
	if err := c.h.w.CatchUp(meshtest.Context(t)); err != nil || position(c.h.db) != last {
		t.Fatalf("caught up to %d (%v), want %d", position(c.h.db), err, last)
	}
}

// A replica restarted more often than snapshots fall due still takes
// them: the next is due after what the kept one covers, not after what
// each start found.
func TestSnapshotsFallDueAcrossRestarts(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	n.SnapshotMin = 10
	c := openCounters(t, n)
	c.incrementAll(t, 10)
	first := snapshotAt(t, n.JS, 10)
	var last uint64
	for range 3 { // 6 events a start: none of them alone makes 10
		c.rt.Stop()
		c = openCounters(t, n)
		last = c.incrementAll(t, 6)
	}
	if at := snapshotAt(t, n.JS, first+10); at > last {
		t.Fatalf("snapshot at %d, past the last event %d", at, last)
	}
}

// Chunks no snapshot names (an upload cut short, or the loser of two
// replicas uploading at once) are purged once old enough; those of the
// snapshot kept stay.
func TestChunksNoSnapshotNamesArePurged(t *testing.T) {
	t.Parallel()
	js := streamOnNewServer(t)
	ctx := meshtest.Context(t)
	if err := mesh.ProvisionSnapshots(ctx, js, mesh.Storage{}, "test"); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, js, filepath.Join(t.TempDir(), "test.db"))
	if _, err := h.increment(ctx, "one", "c"); err != nil {
		t.Fatal(err)
	}
	// An upload cut short: chunks under a NUID that no object names.
	orphan := "$O." + mesh.SnapshotBucket("test") + ".C.an-upload-cut-short"
	if _, err := js.Publish(ctx, orphan, []byte("half a snapshot")); err != nil {
		t.Fatal(err)
	}
	tidy := &mesh.Snapshots{JS: js, Bucket: mesh.SnapshotBucket("test"), OrphanAge: time.Nanosecond}
	if written, _, err := tidy.Write(ctx, h.db, "test", []string{testStream}); !written || err != nil {
		t.Fatalf("written %v, %v", written, err)
	}
	s, err := js.Stream(ctx, "OBJ_"+mesh.SnapshotBucket("test"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("$O."+mesh.SnapshotBucket("test")+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.State.Subjects[orphan]; ok || len(info.State.Subjects) != 1 {
		t.Fatalf("chunk subjects after the snapshot: %v; want only the snapshot's", info.State.Subjects)
	}
	if restored, err := tidy.Restore(ctx, "test", filepath.Join(t.TempDir(), "test.db")); !restored || err != nil {
		t.Fatalf("the snapshot kept does not restore: %v, %v", restored, err)
	}
}

func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s is there (%v)", path, err)
	}
}

// rewriteMeta changes the counters' snapshot's metadata in the bucket
// behind the object store's back, as a fault or a forger would.
func rewriteMeta(t *testing.T, js jetstream.JetStream, change func(*jetstream.ObjectInfo)) {
	t.Helper()
	ctx := meshtest.Context(t)
	stream := "OBJ_" + mesh.SnapshotBucket("test")
	subject := "$O." + mesh.SnapshotBucket("test") + ".M." + base64.URLEncoding.EncodeToString([]byte("test"))
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	change(&info)
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set("Nats-Rollup", "sub")
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
}

// A file left open by a machine that stopped, with commits never flushed,
// cannot be trusted (OpenDB): it is replaced by the latest snapshot rather
// than by an empty file, so that the replica replays only the tail.
func TestATornFileIsReplacedByTheSnapshot(t *testing.T) {
	t.Parallel()
	n := meshtest.Node(t)
	n.SnapshotMin = 5
	c := openCounters(t, n)
	last := c.incrementAll(t, 6)
	snapped := snapshotAt(t, n.JS, 5)
	c.rt.Stop()
	// The machine stopped with the file open: its marker names an earlier
	// boot, and its commits were not flushed.
	path := n.DBPath("test")
	if err := os.WriteFile(path+".open", []byte(`{"boot":"an-earlier-boot"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	again := openCounters(t, n)
	if again.openedAt != snapped {
		t.Fatalf("the torn file was replaced by one at %d, want the snapshot's %d", again.openedAt, snapped)
	}
	if err := again.h.w.CatchUp(meshtest.Context(t)); err != nil || position(again.h.db) != last {
		t.Fatalf("caught up to %d (%v), want %d", position(again.h.db), err, last)
	}
}
