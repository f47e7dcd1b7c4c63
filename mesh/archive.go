package mesh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// An archive holds the history of an event stream (ADR 25): the events
// older than a retention window are copied into it, in order, and then
// removed from the stream, so the server's index of the stream's subjects
// (about 100 bytes per subject, always in memory) holds what is recent,
// not every order ever placed. The archive has one subject, so its index
// is one entry however much it holds.
//
// The archive's sequences are the stream's: a message the stream deleted
// (a timer that was cancelled) is a gap marker in the archive, so the
// event at sequence N of ORDERS is at sequence N of ORDERS_ARCHIVE, and a
// reader that knows where an event was stored finds it in one read.

// ArchiveStream names the archive of stream.
func ArchiveStream(stream string) string { return stream + "_ARCHIVE" }

// ArchiveSubject is the one subject of stream's archive.
func ArchiveSubject(stream string) string { return "archive." + strings.ToLower(stream) }

// Headers an archived event carries besides its own: the subject it was
// stored on, and when the stream stored it. A gap marker has no subject.
const (
	HeaderArchivedSubject = "Shopmesh-Subject"
	HeaderArchivedStored  = "Shopmesh-Stored"
)

// archiveOrigin is the archive's metadata key for when its stream was
// created: the archive holds the history of that stream, and of no other
// of the same name (one deleted and made again starts at sequence 1).
const archiveOrigin = "shopmesh.stream.created"

// ErrForeignArchive is an archive that holds the history of another
// stream of the same name: one deleted and made again. It is neither read
// nor written; an operator removes it once its history is saved elsewhere.
var ErrForeignArchive = errors.New("the archive holds another stream's history")

// ProvisionArchive creates the archive of live or brings it up to date.
// No one may remove what it holds: it is the only copy of the stream's
// history. It stays the archive of the stream it was made for.
func ProvisionArchive(ctx context.Context, js jetstream.JetStream, st Storage, live jetstream.Stream) error {
	name := live.CachedInfo().Config.Name
	origin := createdAt(live)
	if a, err := js.Stream(ctx, ArchiveStream(name)); err == nil {
		origin = a.CachedInfo().Config.Metadata[archiveOrigin] // never rewritten
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("provision archive of %s: %w", name, err)
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        ArchiveStream(name),
		Subjects:    []string{ArchiveSubject(name)},
		Storage:     st.kind(),
		Replicas:    st.replicas(),
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
		Compression: st.compression(),
		Metadata:    map[string]string{archiveOrigin: origin},
	})
	if err != nil {
		return fmt.Errorf("provision archive of %s: %w", name, err)
	}
	return nil
}

func createdAt(s jetstream.Stream) string {
	return s.CachedInfo().Created.UTC().Format(time.RFC3339Nano)
}

// OpenArchive opens the archive of live: ErrStreamNotFound where it has
// none, ErrForeignArchive where the archive is another stream's, or is
// ahead of the stream.
func OpenArchive(ctx context.Context, js jetstream.JetStream, live jetstream.Stream) (jetstream.Stream, error) {
	name := live.CachedInfo().Config.Name
	a, err := js.Stream(ctx, ArchiveStream(name))
	if err != nil {
		return nil, err
	}
	info := a.CachedInfo()
	if info.Config.Metadata[archiveOrigin] != createdAt(live) || info.State.LastSeq > live.CachedInfo().State.LastSeq {
		return nil, fmt.Errorf("%w: %s_ARCHIVE was made for the %s created at %s; this one was created at %s",
			ErrForeignArchive, name, name, info.Config.Metadata[archiveOrigin], createdAt(live))
	}
	return a, nil
}

// ArchivedMsg is an event read back from an archive, as the stream stored
// it: its own subject, stream and sequence. It is read-only: acking it
// does nothing.
type ArchivedMsg struct {
	jetstream.Msg
	stream string
}

// Archived reads m, a message of stream's archive, back as the event the
// stream stored; ok is false for a gap marker.
func Archived(stream string, m jetstream.Msg) (ArchivedMsg, bool) {
	return ArchivedMsg{Msg: m, stream: stream}, m.Headers().Get(HeaderArchivedSubject) != ""
}

// Subject is the subject the event was stored on.
func (a ArchivedMsg) Subject() string { return a.Headers().Get(HeaderArchivedSubject) }

// Metadata says where the stream stored the event, and when.
func (a ArchivedMsg) Metadata() (*jetstream.MsgMetadata, error) {
	meta, err := a.Msg.Metadata()
	if err != nil {
		return nil, err
	}
	out := *meta
	out.Stream = a.stream
	if at, err := time.Parse(time.RFC3339Nano, a.Headers().Get(HeaderArchivedStored)); err == nil {
		out.Timestamp = at
	}
	return &out, nil
}

// EventReader reads events by where their stream stored them: from the
// stream or, once they have moved there, from its archive. It keeps the
// streams it has opened, and is safe for concurrent use.
type EventReader struct {
	js      jetstream.JetStream
	mu      sync.Mutex
	streams map[string]jetstream.Stream
}

// NewEventReader reads events through js.
func NewEventReader(js jetstream.JetStream) *EventReader {
	return &EventReader{js: js, streams: map[string]jetstream.Stream{}}
}

// Get reads the event stored at seq in stream. It is ErrMsgNotFound where
// neither the stream nor its archive holds one (an operator removed it).
// An event before the stream's first sequence, as last seen, is read from
// the archive at once: one request, not two.
func (r *EventReader) Get(ctx context.Context, stream string, seq uint64) (*jetstream.RawStreamMsg, error) {
	s, err := r.open(ctx, stream)
	if err != nil {
		return nil, err
	}
	if seq >= s.CachedInfo().State.FirstSeq {
		m, err := s.GetMsg(ctx, seq)
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return m, err
		}
	}
	a, err := r.archive(ctx, s)
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, ErrForeignArchive) {
		return nil, jetstream.ErrMsgNotFound
	}
	if err != nil {
		return nil, err
	}
	m, err := a.GetMsg(ctx, seq)
	if err != nil {
		return nil, err
	}
	if m.Header.Get(HeaderArchivedSubject) == "" {
		return nil, jetstream.ErrMsgNotFound // deleted before it was archived
	}
	return unarchived(m), nil
}

// open returns the named stream, asking for it once; its cached first
// sequence only grows staler, which costs Get a second request, never a
// wrong answer.
func (r *EventReader) open(ctx context.Context, name string) (jetstream.Stream, error) {
	return r.kept(name, func() (jetstream.Stream, error) { return r.js.Stream(ctx, name) })
}

// archive returns live's archive (OpenArchive), kept like the streams.
func (r *EventReader) archive(ctx context.Context, live jetstream.Stream) (jetstream.Stream, error) {
	return r.kept(ArchiveStream(live.CachedInfo().Config.Name), func() (jetstream.Stream, error) { return OpenArchive(ctx, r.js, live) })
}

// kept returns the stream kept under name, or opens and keeps it.
func (r *EventReader) kept(name string, open func() (jetstream.Stream, error)) (jetstream.Stream, error) {
	r.mu.Lock()
	s, ok := r.streams[name]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := open()
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	r.mu.Lock()
	r.streams[name] = s
	r.mu.Unlock()
	return s, nil
}

// unarchived is an archived message as its stream stored it.
func unarchived(m *jetstream.RawStreamMsg) *jetstream.RawStreamMsg {
	out := *m
	out.Subject = m.Header.Get(HeaderArchivedSubject)
	if at, err := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderArchivedStored)); err == nil {
		out.Time = at
	}
	out.Header = nats.Header{}
	for k, v := range m.Header {
		if k != HeaderArchivedSubject && k != HeaderArchivedStored {
			out.Header[k] = v
		}
	}
	return &out
}

// readArchive sends the events of live's archive from seq from up to seq
// until (or the archive's end, if sooner), as the stream stored them, to
// deliver; it returns the sequence after the last it read. Readers use it
// where the stream no longer holds what they have to read: a rebuild, a
// replica whose snapshot is older than the retention window, a consumer
// the archiver moved past events it had not delivered. An archive that
// is another stream's is not read (ErrForeignArchive, logged by the
// archiver).
func readArchive(ctx context.Context, js jetstream.JetStream, live jetstream.Stream, from, until uint64, deliver func(jetstream.Msg) error) (uint64, error) {
	stream := live.CachedInfo().Config.Name
	a, err := OpenArchive(ctx, js, live)
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, ErrForeignArchive) {
		return from, nil
	}
	if err != nil {
		return from, fmt.Errorf("archive of %s: %w", stream, err)
	}
	last := min(until, a.CachedInfo().State.LastSeq)
	if last < from {
		return from, nil
	}
	c, err := a.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	})
	if err != nil {
		return from, fmt.Errorf("archive of %s: %w", stream, err)
	}
	msgs, err := c.Messages(jetstream.PullMaxMessages(min(maxBatch, int(last-from)+1)))
	if err != nil {
		return from, fmt.Errorf("archive of %s: %w", stream, err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	for from <= last {
		m, err := msgs.Next()
		if err != nil {
			return from, fmt.Errorf("archive of %s at %d: %w", stream, from, errors.Join(err, ctx.Err()))
		}
		meta, err := m.Metadata()
		if err != nil {
			return from, err
		}
		if event, ok := Archived(stream, m); ok {
			if err := deliver(event); err != nil {
				return from, err
			}
		}
		from = meta.Sequence.Stream + 1
	}
	return from, nil
}
