package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// StorageGuard keeps an embedded server's JetStream writing through a disk
// that fills and then has room again.
//
// JetStream stops taking writes when its disk fills, as it should, but on
// one server it does not start again by itself. A stream whose write
// failed (no space left on device) keeps that error and fails every later
// write, answering none of them, until JetStream is started again; and a
// store at the limit JetStream set itself at start (three quarters of the
// disk it found) stays refused until JetStream works the limit out again.
// So the guard looks at the store every second, and when JetStream cannot
// write and the disk has room again, it restarts JetStream inside the
// server, as the server starts it: what restarting the process did,
// without dropping a connection. It is for a store on file: streams kept
// in memory would not survive the restart.
type StorageGuard struct {
	srv *server.Server
	// js is the configuration JetStream was started with.
	js server.JetStreamConfig
	// dir is where the store is, whose file system is looked at.
	dir string
	// minFree is the room JetStream needs before it is restarted, and
	// below which a disk that stops JetStream is called full.
	minFree uint64
	log     zerolog.Logger

	mu      sync.Mutex
	problem error
}

const (
	// minFree is 16 MiB, or a tenth of a smaller disk: a few of
	// JetStream's blocks, room to read every stream back and take writes
	// for a while.
	minFree = 16 << 20
	// lookEvery is how often the guard looks: a look is a system call and
	// two reads of the server's own state, nothing against a shop's
	// traffic, and none of it on the path of a write.
	lookEvery = time.Second
	// restartPause is the least time between two restarts; it doubles,
	// up to maxRestartPause, while a restart does not hold.
	restartPause    = 5 * time.Second
	maxRestartPause = time.Minute
)

// NewStorageGuard returns a guard of the JetStream store of srv, which
// StartServer started with o; it logs each restart to log. Run starts it.
func NewStorageGuard(srv *server.Server, o ServerOptions, log zerolog.Logger) (*StorageGuard, error) {
	opts, err := serverOptions(o)
	if err != nil {
		return nil, err
	}
	g := &StorageGuard{srv: srv, js: jetStreamConfig(opts), dir: opts.StoreDir, minFree: minFree, log: log}
	if g.dir == "" {
		g.dir = srv.StoreDir()
	}
	if _, size, ok := diskSpace(g.dir); ok {
		g.minFree = min(g.minFree, size/10)
	}
	return g, nil
}

// Problem says why JetStream cannot write for want of room (nil when it
// can): for /readyz.
func (g *StorageGuard) Problem() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.problem
}

// Run looks at the store until ctx ends, restarting JetStream when it is
// blocked and the disk has room again.
func (g *StorageGuard) Run(ctx context.Context) {
	tick := time.NewTicker(lookEvery)
	defer tick.Stop()
	pause := restartPause
	var next time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := g.look()
		g.setProblem(st.problem(g.dir, g.minFree))
		if st.blocked() == nil {
			pause = restartPause
			continue
		}
		if !st.restartHelps(g.minFree) || time.Now().Before(next) {
			continue
		}
		g.restart(st)
		next, pause = time.Now().Add(pause), min(2*pause, maxRestartPause)
	}
}

func (g *StorageGuard) setProblem(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.problem = err
}

// look reads what the server knows of its store, and what the file system
// says of the disk.
func (g *StorageGuard) look() storeState {
	st := storeState{dynamic: g.js.MaxStore <= 0}
	st.free, st.size, st.measured = diskSpace(g.dir)
	if !g.srv.JetStreamEnabled() {
		st.off = true
		return st
	}
	if info, err := g.srv.Jsz(&server.JSzOptions{}); err == nil && !info.Disabled {
		st.used, st.max = int64(info.Store), info.Config.MaxStore
	}
	health := g.srv.Healthz(&server.HealthzOptions{Details: true})
	for _, e := range health.Errors {
		if e.Type == server.HealthzErrorStream && strings.Contains(e.Error, "write error") {
			st.failed = append(st.failed, e.Stream)
			st.cause = writeCause(e.Error)
		}
	}
	return st
}

// restart stops JetStream, if it still runs, and starts it again as the
// server starts it: it reads every stream back from disk, without the
// write errors it kept, and works its limit out from the disk as it is
// now.
func (g *StorageGuard) restart(st storeState) {
	log := g.log.With().Strs("streams", st.failed).Str("error", st.cause).Int64("used", st.used).Int64("limit", st.max).
		Uint64("free", st.free).Str("dir", g.dir).Logger()
	log.Warn().Msg("JetStream cannot write and the disk has room again; restarting JetStream")
	start := time.Now()
	if g.srv.JetStreamEnabled() {
		if err := g.srv.ShutdownJetStream(); err != nil {
			log.Error().Err(err).Msg("JetStream did not stop; trying again later")
			return
		}
	}
	cfg := g.js // EnableJetStream changes what it is given
	if err := g.srv.EnableJetStream(&cfg); err != nil {
		log.Error().Err(err).Msg("JetStream did not start; trying again later")
		return
	}
	log.Info().Dur("took", time.Since(start)).Msg("JetStream restarted")
}

// jetStreamConfig is the configuration the server starts JetStream with
// from o (server.Start, and its own restart after a reload): a limit not
// given is worked out from the disk again.
func jetStreamConfig(o *server.Options) server.JetStreamConfig {
	return server.JetStreamConfig{
		StoreDir: o.StoreDir, SyncInterval: o.SyncInterval, SyncAlways: o.SyncAlways,
		Strict: !o.NoJetStreamStrict, MaxMemory: o.JetStreamMaxMemory, MaxStore: o.JetStreamMaxStore,
		Domain: o.JetStreamDomain, CompressOK: true, UniqueTag: o.JetStreamUniqueTag,
	}
}

// storeState is one look at JetStream's store.
type storeState struct {
	off       bool     // JetStream is not running
	failed    []string // streams that keep a write error
	cause     string   // the last of those errors, without its file
	used, max int64    // bytes stored on file, and JetStream's limit
	dynamic   bool     // the limit is worked out from the disk at start
	// free and size are the disk's, when measured.
	free, size uint64
	measured   bool
}

// blocked says why JetStream cannot write, or nil.
func (st storeState) blocked() error {
	switch {
	case st.off:
		return errors.New("JetStream is not running")
	case len(st.failed) > 0:
		return fmt.Errorf("JetStream stopped writing to %s (%s)", strings.Join(st.failed, ", "), st.cause)
	case st.max > 0 && st.used > st.max: // as the server tells, in limitsExceeded
		return fmt.Errorf("JetStream's store is at its limit (%s of %s)", size(uint64(st.used)), size(uint64(st.max)))
	}
	return nil
}

// restartHelps says a restart would let JetStream write again: the disk
// has room, and a limit worked out again from it is above what is stored
// with room to spare. The server works it out as three quarters of the
// room on the disk and of what its streams hold (see finalizeDynamicMaxStore
// in nats-server).
func (st storeState) restartHelps(minFree uint64) bool {
	if !st.measured {
		return true // nothing says there is no room: try, with pauses between tries
	}
	if st.free < minFree {
		return false
	}
	if st.max <= 0 || st.used <= st.max {
		return true
	}
	return st.dynamic && (st.free+uint64(st.used))/4*3 >= uint64(st.used)+minFree
}

// problem is what /readyz says while JetStream cannot write.
func (st storeState) problem(dir string, minFree uint64) error {
	err := st.blocked()
	switch {
	case err == nil:
		return nil
	case !st.measured:
		return err
	case st.free < minFree:
		return fmt.Errorf("disk full: %s free of %s at %s; %w", size(st.free), size(st.size), dir, err)
	case !st.restartHelps(minFree):
		return fmt.Errorf("%w; %s free at %s is not enough for it to take writes again", err, size(st.free), dir)
	}
	return fmt.Errorf("%w; the disk has room again (%s free at %s), so it is being restarted", err, size(st.free), dir)
}

// writeCause is what went wrong in the server's "JetStream stream '$G >
// ORDERS' write error: write /data/.../1.blk: no space left on device":
// the system's own words at the end.
func writeCause(text string) string {
	if i := strings.LastIndex(text, ": "); i >= 0 {
		return text[i+len(": "):]
	}
	return text
}

// size says n bytes in the unit that reads best.
func size(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
