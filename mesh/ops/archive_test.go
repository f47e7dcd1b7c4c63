package ops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

// archiveFixture is a stream of events on one subject per entity, as an
// order's are, with its archive.
func archiveFixture(t *testing.T, events int) (context.Context, jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	js := meshtest.JetStream(t, meshtest.Server(t))
	spec := mesh.StreamSpec{Name: "SHOP", Subjects: []string{"shop.>"}, Schedules: true, Archive: true}
	if err := mesh.ProvisionStream(ctx, js, mesh.Storage{}, spec); err != nil {
		t.Fatal(err)
	}
	for i := range events {
		m := nats.NewMsg(fmt.Sprintf("shop.order.o%d.placed", i))
		m.Header.Set(mesh.HeaderType, "shop.placed.v1")
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("id-%d", i))
		m.Data = fmt.Appendf(nil, `{"orderId":"o%d"}`, i)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, "SHOP")
	if err != nil {
		t.Fatal(err)
	}
	return ctx, js, s
}

func streamState(t *testing.T, ctx context.Context, js jetstream.JetStream, name string) jetstream.StreamState {
	t.Helper()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State
}

// An archived stream keeps no subject of what it archived, and every event
// is read back from the archive at the sequence it was stored at, as it
// was stored; a sequence the stream had deleted is read as none.
func TestArchivedEventsLeaveTheStreamAndKeepTheirSequence(t *testing.T) {
	t.Parallel()
	ctx, js, s := archiveFixture(t, 50)
	if err := s.DeleteMsg(ctx, 7); err != nil { // a cancelled timer, say
		t.Fatal(err)
	}
	a := ops.Archiver{JS: js}
	done, err := a.Archive(ctx, "SHOP")
	if err != nil {
		t.Fatal(err)
	}
	if done.Copied != 49 || done.Gaps != 1 || done.Through != 50 || done.Removed != 49 || done.First != 51 {
		t.Fatalf("round: %+v, want 49 copied, 1 gap, through 50, 49 removed, first 51", done)
	}
	live, archive := streamState(t, ctx, js, "SHOP"), streamState(t, ctx, js, mesh.ArchiveStream("SHOP"))
	if live.NumSubjects != 0 || live.Msgs != 0 {
		t.Errorf("stream still holds %d messages on %d subjects", live.Msgs, live.NumSubjects)
	}
	if archive.NumSubjects != 1 || archive.LastSeq != 50 {
		t.Errorf("archive: %d subjects, last %d; want 1 subject, last 50", archive.NumSubjects, archive.LastSeq)
	}
	events := mesh.NewEventReader(js)
	for seq := uint64(1); seq <= 50; seq++ {
		m, err := events.Get(ctx, "SHOP", seq)
		if seq == 7 {
			if !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Errorf("deleted seq 7: %v, want not found", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		want := fmt.Sprintf("shop.order.o%d.placed", seq-1)
		if m.Subject != want || string(m.Data) != fmt.Sprintf(`{"orderId":"o%d"}`, seq-1) || m.Header.Get(mesh.HeaderType) != "shop.placed.v1" {
			t.Errorf("seq %d: %s %s %v", seq, m.Subject, m.Data, m.Header)
		}
		if m.Header.Get(nats.MsgIdHdr) != "" {
			t.Errorf("seq %d kept the stream's message id", seq)
		}
	}
	// New events go on at the next sequence, and are archived after it.
	if _, err := js.Publish(ctx, "shop.order.late.placed", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if done, err = a.Archive(ctx, "SHOP"); err != nil || done.Copied != 1 || done.Through != 51 {
		t.Fatalf("second round: %+v, %v", done, err)
	}
}

// Nothing young leaves the stream: an event is copied once older than
// After, and removed once older than After+Overlap.
func TestOnlyHistoryIsArchived(t *testing.T) {
	t.Parallel()
	ctx, js, _ := archiveFixture(t, 10)
	young := ops.Archiver{JS: js, After: time.Hour}
	if done, err := young.Archive(ctx, "SHOP"); err != nil || done.Copied+done.Removed != 0 {
		t.Fatalf("events of a moment ago: %+v, %v; want nothing archived", done, err)
	}
	overlapping := ops.Archiver{JS: js, Overlap: time.Hour}
	done, err := overlapping.Archive(ctx, "SHOP")
	if err != nil || done.Copied != 10 || done.Removed != 0 {
		t.Fatalf("within the overlap: %+v, %v; want all copied, none removed", done, err)
	}
	// The next round, with no overlap, removes what the archive holds.
	if done, err = (&ops.Archiver{JS: js}).Archive(ctx, "SHOP"); err != nil || done.Copied != 0 || done.Removed != 10 {
		t.Fatalf("after the overlap: %+v, %v; want 10 removed", done, err)
	}
}

// A timer still scheduled is not history: the archive stops before it.
func TestATimerStillScheduledStopsTheArchive(t *testing.T) {
	t.Parallel()
	ctx, js, _ := archiveFixture(t, 3)
	timer := nats.NewMsg("shop.timer.o9")
	timer.Header.Set("Nats-Schedule", "@at "+time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	timer.Header.Set("Nats-Schedule-Target", "shop.deadline.o9")
	if _, err := js.PublishMsg(ctx, timer); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "shop.order.o9.placed", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	done, err := (&ops.Archiver{JS: js}).Archive(ctx, "SHOP")
	if err != nil || done.Copied != 3 || done.First != 4 {
		t.Fatalf("%+v, %v; want the 3 events before the timer archived, the stream from 4", done, err)
	}
}

// A reaction that has not yet handled an event keeps it in the stream.
func TestAConsumerBehindHoldsItsEventsInTheStream(t *testing.T) {
	t.Parallel()
	ctx, js, s := archiveFixture(t, 10)
	c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "slow", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(4)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	done, err := (&ops.Archiver{JS: js}).Archive(ctx, "SHOP")
	if err != nil || done.Copied != 10 || done.Removed != 4 || done.First != 5 || done.HeldBy != "slow" {
		t.Fatalf("%+v, %v; want all copied, the 4 handled removed, held by slow", done, err)
	}
}

// Two archivers at once (two operators, a round that overran the next)
// never copy an event twice: the archive stays the stream, sequence for
// sequence.
func TestTwoArchiversAtOnceCopyEachEventOnce(t *testing.T) {
	t.Parallel()
	ctx, js, _ := archiveFixture(t, 3000)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				done, err := (&ops.Archiver{JS: js}).Archive(ctx, "SHOP")
				if err == nil && done.Through == 3000 {
					return
				}
				if ctx.Err() != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	archive := streamState(t, ctx, js, mesh.ArchiveStream("SHOP"))
	if archive.Msgs != 3000 || archive.LastSeq != 3000 {
		t.Fatalf("archive holds %d, last %d; want 3000 at their own sequences", archive.Msgs, archive.LastSeq)
	}
	for _, seq := range []uint64{1, 1500, 3000} {
		m, err := mesh.NewEventReader(js).Get(ctx, "SHOP", seq)
		if err != nil || m.Subject != fmt.Sprintf("shop.order.o%d.placed", seq-1) {
			t.Fatalf("seq %d: %v %v", seq, m, err)
		}
	}
}

// An archiver whose rounds fail says so once they have failed for longer
// than it is allowed, with the error.
func TestAnArchiverThatFailsSaysWhy(t *testing.T) {
	t.Parallel()
	ctx, js, _ := archiveFixture(t, 1)
	a := &ops.Archiver{JS: js}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(runCtx, []string{"SHOP", "NO_SUCH_STREAM"}, 10*time.Millisecond) })
	defer wg.Wait()
	defer stop()
	meshtest.Eventually(t, 10*time.Second, func() error {
		if err := a.Problem(0); err == nil || !strings.Contains(err.Error(), "NO_SUCH_STREAM") {
			return fmt.Errorf("problem %v, want one naming the missing stream", err)
		}
		return nil
	})
	if err := a.Problem(time.Hour); err != nil {
		t.Errorf("a round failed a moment ago, within the hour allowed: %v", err)
	}
}

// A stream deleted and made again starts at sequence 1: its archive holds
// another stream's history. The archiver neither copies into it nor
// removes anything from the new stream, and readers do not take the old
// events for the new one's.
func TestAnArchiveOfAnotherStreamIsLeftAlone(t *testing.T) {
	t.Parallel()
	ctx, js, _ := archiveFixture(t, 10)
	if _, err := (&ops.Archiver{JS: js}).Archive(ctx, "SHOP"); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, "SHOP"); err != nil {
		t.Fatal(err)
	}
	spec := mesh.StreamSpec{Name: "SHOP", Subjects: []string{"shop.>"}, Archive: true}
	if err := mesh.ProvisionStream(ctx, js, mesh.Storage{}, spec); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctx, fmt.Sprintf("shop.order.new%d.placed", i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&ops.Archiver{JS: js}).Archive(ctx, "SHOP"); !errors.Is(err, mesh.ErrForeignArchive) {
		t.Fatalf("archive into another stream's archive: %v, want ErrForeignArchive", err)
	}
	if live := streamState(t, ctx, js, "SHOP"); live.Msgs != 5 {
		t.Fatalf("the new stream holds %d of its 5 events", live.Msgs)
	}
	if _, err := mesh.NewEventReader(js).Get(ctx, "SHOP", 8); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("seq 8 of the new stream, which has 5: %v, want not found (not the old stream's event)", err)
	}
}

// A stream that begins far after its archive ends (a purge of 20,000
// sequences) is archived with as many gap markers, a thousand or so in
// flight at a time.
func TestALongGapIsArchivedInBatches(t *testing.T) {
	t.Parallel()
	ctx, js, s := archiveFixture(t, 1)
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(20_000)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "shop.order.x.placed", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	done, err := (&ops.Archiver{JS: js}).Archive(ctx, "SHOP")
	if err != nil || done.Through != 20_000 || done.Copied != 1 || done.Gaps != 19_999 {
		t.Fatalf("%+v, %v; want the event at 20,000 copied after 19,999 gaps", done, err)
	}
}

// A round copies at most its share and says there is more; ArchiveAll,
// and Run, go straight on with the next round rather than leaving a
// backlog for the next tick.
func TestARoundCopiesAtMostItsShare(t *testing.T) {
	t.Parallel()
	ctx, js, _ := archiveFixture(t, 25)
	a := &ops.Archiver{JS: js, Most: 10}
	done, err := a.Archive(ctx, "SHOP")
	if err != nil || done.Copied != 10 || !done.Full || done.Removed != 10 {
		t.Fatalf("%+v, %v; want 10 copied and removed, and more to come", done, err)
	}
	all, err := a.ArchiveAll(ctx, "SHOP")
	if err != nil || all.Copied != 15 || all.Through != 25 || all.Full {
		t.Fatalf("ArchiveAll: %+v, %v; want the other 15 copied, through 25", all, err)
	}
	publishMore(t, ctx, js, 5)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(runCtx, []string{"SHOP"}, time.Hour) })
	defer wg.Wait()
	defer stop()
	meshtest.Eventually(t, 10*time.Second, func() error {
		if got := streamState(t, ctx, js, mesh.ArchiveStream("SHOP")).LastSeq; got != 30 {
			return fmt.Errorf("archived through %d of 30", got)
		}
		return nil
	})
}

// publishMore adds n events to the fixture's stream.
func publishMore(t *testing.T, ctx context.Context, js jetstream.JetStream, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.Publish(ctx, fmt.Sprintf("shop.order.more%d.placed", i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
}
