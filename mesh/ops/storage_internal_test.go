package ops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// What the guard says of a store, and whether it restarts JetStream: only
// when JetStream cannot write, the disk has room, and a limit worked out
// again would be above what is stored.
func TestTheGuardRestartsOnlyWhatARestartMends(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	full := []string{"ORDERS"}
	cases := map[string]struct {
		st      storeState
		restart bool
		says    string // in problem; "" when there is none
	}{
		"writing": {storeState{used: 5 * mib, max: 18 * mib, free: 2 * mib, size: 24 * mib, measured: true},
			false, ""},
		"a write failed, the disk is full": {storeState{failed: full, cause: "no space left on device", free: 0, size: 24 * mib, measured: true},
			false, "disk full: 0 B free of 24.0 MiB at /data; JetStream stopped writing to ORDERS (no space left on device)"},
		"a write failed, the disk has room again": {storeState{failed: full, cause: "no space left on device", free: 20 * mib, size: 24 * mib, measured: true},
			true, "has room again"},
		"a write failed, the disk cannot be measured": {storeState{failed: full, cause: "no space left on device"},
			true, "JetStream stopped writing to ORDERS"},
		"at its limit, the disk still full": {storeState{used: 19 * mib, max: 18 * mib, dynamic: true, free: 1 * mib, size: 24 * mib, measured: true},
			false, "disk full"},
		"at its limit, a new one would be above it": {storeState{used: 19 * mib, max: 18 * mib, dynamic: true, free: 40 * mib, size: 64 * mib, measured: true},
			true, "has room again"},
		"at its limit, a new one would be too": {storeState{used: 19 * mib, max: 18 * mib, dynamic: true, free: 8 * mib, size: 64 * mib, measured: true},
			false, "8.0 MiB free at /data is not enough"},
		"at a limit it was given": {storeState{used: 19 * mib, max: 18 * mib, free: 40 * mib, size: 64 * mib, measured: true},
			false, "JetStream's store is at its limit (19.0 MiB of 18.0 MiB)"},
		"not running": {storeState{off: true, free: 40 * mib, size: 64 * mib, measured: true},
			true, "JetStream is not running"},
	}
	for name, c := range cases {
		if got := c.st.blocked() != nil && c.st.restartHelps(2*mib); got != c.restart {
			t.Errorf("%s: restart %v, want %v", name, got, c.restart)
		}
		err := c.st.problem("/data", 2*mib)
		switch {
		case c.says == "" && err != nil:
			t.Errorf("%s: problem %v, want none", name, err)
		case c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%s: problem %v, want it to say %q", name, err, c.says)
		}
	}
}

func TestWriteCauseIsTheSystemsOwnWords(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"JetStream stream '$G > ORDERS' write error: write /d/$G/streams/ORDERS/msgs/1.blk: no space left on device": "no space left on device",
		"disk quota exceeded": "disk quota exceeded",
	} {
		if got := writeCause(text); got != want {
			t.Errorf("writeCause(%q) = %q, want %q", text, got, want)
		}
	}
}

// The guard reads what the server itself says: here a store at the limit
// its configuration gives, which a restart would not change.
func TestTheGuardSeesAStoreAtItsLimit(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("jetstream { max_file_store: 64KB }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), ConfigFile: conf}
	srv, err := StartServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	g, err := NewStorageGuard(srv, opts, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.look().blocked(); err != nil {
		t.Fatalf("an empty store is blocked: %v", err)
	}
	fillStream(t, srv.ClientURL())
	st := g.look()
	if err := st.blocked(); err == nil || !strings.Contains(err.Error(), "at its limit") {
		t.Fatalf("a store past its limit: %v (%+v)", err, st)
	}
	if st.restartHelps(0) {
		t.Fatal("a restart would not raise a limit the configuration gives")
	}
}

// fillStream publishes to a file stream until JetStream refuses for want
// of resources.
func fillStream(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FILL", Subjects: []string{"fill"}}); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 4<<10)
	for {
		if _, err := js.Publish(ctx, "fill", body); err != nil {
			if strings.Contains(err.Error(), "insufficient resources") {
				return
			}
			t.Fatal(err)
		}
	}
}
