package mesh

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DuplicateWindow is how long JetStream remembers message ids: a publish
// retried because its answer was lost is dropped as a duplicate within it.
// Past it nothing is written twice either: every decided event expects its
// entity's position, so a late retry conflicts, and the writer finds its
// own message there (storedAlready) or decides again. The server keeps
// about 140 bytes per id for the whole window, so the window is what a
// busy shop pays for: at 400 orders/s and about 15 ids an order, 2 minutes
// is about 100 MB, where 10 minutes was 500 MB (ADR 21).
const DuplicateWindow = 2 * time.Minute

// DeadLetterStream holds messages that a reaction gave up on.
const DeadLetterStream = "DEADLETTER"

// StreamSpec describes a service's event stream.
type StreamSpec struct {
	Name     string
	Subjects []string
	// Schedules allows JetStream message scheduling (timers) in this stream.
	Schedules bool
	// Archive gives the stream an archive (ProvisionArchive), where its
	// events go once they are history: the stream's per-order subjects
	// then cost the server what is recent, not all there ever was.
	Archive bool
}

// Storage says where JetStream keeps streams and buckets, and how the
// services keep their local state.
type Storage struct {
	Memory   bool
	Replicas int
	// Sync flushes every local-state commit to disk, to go with a server
	// that flushes every write (--sync always). Without it, local state is
	// rebuilt after a machine stops without closing it (OpenDB).
	Sync bool
}

func (s Storage) kind() jetstream.StorageType {
	if s.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// compression is S2 for file streams: an event is mostly JSON and
// CloudEvents headers, which S2 shrinks to about a third, and nats-server
// compresses a block only once it is full, off the path of a write.
// Memory streams are not compressed.
func (s Storage) compression() jetstream.StoreCompression {
	if s.Memory {
		return jetstream.NoCompression
	}
	return jetstream.S2Compression
}

func (s Storage) replicas() int {
	return max(s.Replicas, 1)
}

// ProvisionStream creates the stream or brings its configuration up to date.
// It is safe to call at every start and from every replica.
func ProvisionStream(ctx context.Context, js jetstream.JetStream, st Storage, spec StreamSpec) error {
	cfg := jetstream.StreamConfig{
		Name:               spec.Name,
		Subjects:           spec.Subjects,
		Storage:            st.kind(),
		Replicas:           st.replicas(),
		Duplicates:         DuplicateWindow,
		AllowAtomicPublish: true,
		AllowMsgSchedules:  spec.Schedules,
		AllowMsgTTL:        spec.Schedules,
		AllowDirect:        true,
		Compression:        st.compression(),
	}
	live, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("provision stream %s: %w", spec.Name, err)
	}
	if spec.Archive {
		return ProvisionArchive(ctx, js, st, live)
	}
	return nil
}

// ProvisionDeadLetters creates the dead-letter stream shared by all services.
func ProvisionDeadLetters(ctx context.Context, js jetstream.JetStream, st Storage) error {
	return ProvisionStream(ctx, js, st, StreamSpec{Name: DeadLetterStream, Subjects: []string{"deadletter.>"}})
}

// RecentViews is the BucketTTL of a service whose views are one per order:
// a day after an order last changed, its view is read from the service's
// local state instead of the bucket.
const RecentViews = 24 * time.Hour

// ProvisionBucket creates or updates a KV bucket for a read model, whose
// views stay for ttl after they last changed (0: for good).
func ProvisionBucket(ctx context.Context, js jetstream.JetStream, st Storage, name string, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      name,
		History:     1,
		TTL:         ttl,
		Storage:     st.kind(),
		Replicas:    st.replicas(),
		Compression: !st.Memory,
	})
	if err != nil {
		return nil, fmt.Errorf("provision bucket %s: %w", name, err)
	}
	return kv, nil
}

// Durable is a reaction's consumer: all replicas of a service share it, so
// each event is handled once per service.
type Durable struct {
	Name     string
	Stream   string
	Subjects []string
}

// Plan is everything a service does on NATS, written down before it runs.
// An operator provisions it (Provision) once; the service's own user may
// then do exactly what it says and no more (package natsauth), so a
// service never creates, changes or removes what another one relies on.
type Plan struct {
	Service string
	// Writes is the stream of the service's own events: the only subjects
	// it may publish.
	Writes StreamSpec
	// Reads are the other streams it projects, reacts to or shows.
	Reads []StreamSpec
	// Bucket is the KV bucket of its read model; empty for none.
	Bucket string
	// BucketTTL is how long a view stays in the bucket after it last
	// changed; 0 keeps it for good. A service that reads an older view
	// from its local state sets it, so that the bucket, and the server's
	// index of its keys, holds what is recent, not every entity it ever
	// had (ADR 21).
	BucketTTL time.Duration
	// Durables are the consumers of its reactions.
	Durables []Durable
}

// Streams are every stream the service reads, its own first.
func (p Plan) Streams() []StreamSpec {
	return append([]StreamSpec{p.Writes}, p.Reads...)
}

// Provision creates (or brings up to date) every stream, bucket and
// durable consumer of the plans, and the dead-letter stream. It needs an
// operator's rights; it is safe to run again, from any process.
func Provision(ctx context.Context, js jetstream.JetStream, st Storage, reactions ReactionOptions, plans ...Plan) error {
	if err := ProvisionDeadLetters(ctx, js, st); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, p := range plans {
		for _, spec := range p.Streams() {
			if done[spec.Name] {
				continue
			}
			done[spec.Name] = true
			if err := ProvisionStream(ctx, js, st, spec); err != nil {
				return err
			}
		}
		if p.Bucket != "" {
			if _, err := ProvisionBucket(ctx, js, st, p.Bucket, p.BucketTTL); err != nil {
				return err
			}
		}
		if err := ProvisionSnapshots(ctx, js, st, p.Service); err != nil {
			return err
		}
		for _, d := range p.Durables {
			if err := ProvisionDurable(ctx, js, d, reactions); err != nil {
				return err
			}
		}
	}
	return nil
}

// ProvisionDurable creates or updates a reaction's consumer. Its AckWait
// comes from the options, as the reaction's heartbeats must keep within it.
func ProvisionDurable(ctx context.Context, js jetstream.JetStream, d Durable, opts ReactionOptions) error {
	_, err := js.CreateOrUpdateConsumer(ctx, d.Stream, jetstream.ConsumerConfig{
		Durable:        d.Name,
		FilterSubjects: d.Subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        opts.withDefaults().AckWait,
		MaxDeliver:     -1, // retried until handled; see ReactionOptions
		MaxAckPending:  4096,
	})
	if err != nil {
		return fmt.Errorf("provision consumer %s: %w", d.Name, err)
	}
	return nil
}
