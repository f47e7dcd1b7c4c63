package mesh

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DuplicateWindow is how long JetStream remembers message ids. It bounds how
// late a retried command can still be recognised as a duplicate, so it is
// generous: retries with backoff and restarts fit well inside it.
const DuplicateWindow = 10 * time.Minute

// DeadLetterStream holds messages that a reaction gave up on.
const DeadLetterStream = "DEADLETTER"

// StreamSpec describes a service's event stream.
type StreamSpec struct {
	Name     string
	Subjects []string
	// Schedules allows JetStream message scheduling (timers) in this stream.
	Schedules bool
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
	}
	if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("provision stream %s: %w", spec.Name, err)
	}
	return nil
}

// ProvisionDeadLetters creates the dead-letter stream shared by all services.
func ProvisionDeadLetters(ctx context.Context, js jetstream.JetStream, st Storage) error {
	return ProvisionStream(ctx, js, st, StreamSpec{Name: DeadLetterStream, Subjects: []string{"deadletter.>"}})
}

// ProvisionBucket creates or updates a KV bucket for a read model.
func ProvisionBucket(ctx context.Context, js jetstream.JetStream, st Storage, name string) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   name,
		History:  1,
		Storage:  st.kind(),
		Replicas: st.replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("provision bucket %s: %w", name, err)
	}
	return kv, nil
}
