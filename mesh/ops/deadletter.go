package ops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
)

// DeadLetter is a message a reaction gave up on.
type DeadLetter struct {
	Seq      uint64
	Consumer string
	Subject  string
	Type     string
	Error    string
	Stored   time.Time
}

// DeadLetters lists the dead-letter stream, oldest first.
func DeadLetters(ctx context.Context, js jetstream.JetStream) ([]DeadLetter, error) {
	var out []DeadLetter
	err := mesh.ReadStream(ctx, js, mesh.DeadLetterStream, "", func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		h := m.Headers()
		out = append(out, DeadLetter{
			Seq: meta.Sequence.Stream, Consumer: h.Get(mesh.HeaderDeadConsumer), Subject: h.Get(mesh.HeaderDeadSubject),
			Type: h.Get(mesh.HeaderType), Error: h.Get(mesh.HeaderDeadError), Stored: meta.Timestamp,
		})
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}

// ErrRedriveFailed means the reaction handled the redriven message and
// failed again; the dead letter stays.
var ErrRedriveFailed = errors.New("redrive failed")

// ErrSetAside refuses to redrive an event a projection set aside: the
// projection has moved past it, and applying it now would apply it out of
// order. It stays for an operator to read; a later version of the service
// that can read it (an upcaster) rebuilds the state from the streams.
var ErrSetAside = errors.New("a projection set this event aside and has moved past it; it is kept to be read, not redriven")

// ErrNoDeadLetter is a redrive of a letter that is not in the stream:
// never there, or handled and removed already.
var ErrNoDeadLetter = errors.New("no such dead letter")

// Redrive hands dead letter seq back to its reaction (a running replica of
// the service handles it) and removes it once handled.
func Redrive(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	s, err := js.Stream(ctx, mesh.DeadLetterStream)
	if err != nil {
		return fmt.Errorf("redrive %d: %w", seq, err)
	}
	raw, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: %d (shopmesh dlq list shows the letters there are)", ErrNoDeadLetter, seq)
	}
	if err != nil {
		return fmt.Errorf("redrive %d: %w", seq, err)
	}
	consumer := raw.Header.Get(mesh.HeaderDeadConsumer)
	if consumer == "projection" || strings.HasSuffix(consumer, "-projection") {
		return fmt.Errorf("redrive %d: %w", seq, ErrSetAside)
	}
	req := nats.NewMsg(mesh.RedriveSubject(consumer))
	req.Data = []byte(strconv.FormatUint(seq, 10))
	reply, err := js.Conn().RequestMsgWithContext(ctx, req)
	if err != nil {
		return fmt.Errorf("redrive %d to %s (is the service running?): %w", seq, req.Subject, err)
	}
	if len(reply.Data) > 0 {
		return fmt.Errorf("%w: %s", ErrRedriveFailed, reply.Data)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("redriven, but not removed: %w", err)
	}
	return nil
}
