package ops

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerOptions configure the embedded NATS server.
type ServerOptions struct {
	// Addr is the client address, host:port; port 0 picks a free one.
	Addr string
	// MonitorAddr is the HTTP monitoring address; empty turns it off.
	MonitorAddr string
	// StoreDir is where JetStream keeps file-backed streams.
	StoreDir string
	// ConfigFile, when set, is a nats-server configuration file to start
	// from (accounts, users, limits). Addr and MonitorAddr, when set, still
	// decide where it listens; StoreDir fills in a missing store_dir.
	ConfigFile string
	// SyncAlways flushes every JetStream write to disk before it is
	// acknowledged (sync_interval: always). Without it the server flushes
	// every two minutes, and a machine that loses power can lose writes
	// that were acknowledged.
	SyncAlways bool
	// Users, when set, are the only clients the server accepts (package
	// natsauth makes them). A ConfigFile brings its own.
	Users []*server.User
}

// StartServer starts an embedded NATS server with JetStream and waits until
// it accepts connections. Signals are left to the caller.
func StartServer(o ServerOptions) (*server.Server, error) {
	opts, err := serverOptions(o)
	if err != nil {
		return nil, err
	}
	// The server reports what stops it only in its logs; find the usual
	// causes first, and say them at once.
	if err := checkServer(opts); err != nil {
		return nil, err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("nats server: not ready after 10s")
	}
	return s, nil
}

func serverOptions(o ServerOptions) (*server.Options, error) {
	opts := &server.Options{}
	if o.ConfigFile != "" {
		var err error
		if opts, err = server.ProcessConfigFile(o.ConfigFile); err != nil {
			return nil, fmt.Errorf("nats config %s (are its SHOPMESH_NATS_*_PASSWORD variables set? see .env): %w", o.ConfigFile, err)
		}
	}
	opts.JetStream = true
	opts.NoSigs = true
	opts.NoLog = true
	if opts.StoreDir == "" {
		opts.StoreDir = o.StoreDir
	}
	if o.SyncAlways {
		opts.SyncAlways = true
	}
	if len(o.Users) > 0 {
		opts.Users = o.Users
	}
	if o.Addr != "" {
		host, port, err := splitAddr(o.Addr)
		if err != nil {
			return nil, fmt.Errorf("nats address: %w", err)
		}
		opts.Host, opts.Port = host, port
	}
	if o.MonitorAddr != "" {
		host, port, err := splitAddr(o.MonitorAddr)
		if err != nil {
			return nil, fmt.Errorf("nats monitor address: %w", err)
		}
		opts.HTTPHost, opts.HTTPPort = host, port
	}
	return opts, nil
}

// checkServer finds what would keep the server from starting: an address
// already taken, a store directory that is a file or cannot be written.
func checkServer(opts *server.Options) error {
	if err := checkFree("NATS", opts.Host, opts.Port); err != nil {
		return err
	}
	if opts.HTTPPort != 0 {
		if err := checkFree("NATS monitoring", opts.HTTPHost, opts.HTTPPort); err != nil {
			return err
		}
	}
	if opts.StoreDir == "" {
		return nil
	}
	if err := os.MkdirAll(opts.StoreDir, 0o755); err != nil {
		return fmt.Errorf("JetStream storage %s: %w", opts.StoreDir, err)
	}
	f, err := os.CreateTemp(opts.StoreDir, ".write-check-")
	if err != nil {
		return fmt.Errorf("JetStream storage %s cannot be written: %w", opts.StoreDir, err)
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

func checkFree(what, host string, port int) error {
	if port <= 0 {
		return nil // a random port
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s address %s is not free (another shopmesh or nats-server?): %w", what, addr, err)
	}
	return ln.Close()
}

func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// Connect opens a client connection that keeps reconnecting for as long as
// the process runs: a restarting cluster must not take the services down.
// It pings every 2 s and gives up on a server after two pings go
// unanswered, so a server cut off from the network is left within 4-6 s,
// not the client's default two minutes (with 5 s pings, the chaos test's
// cut-off node held its clients for 10-15 s).
func Connect(url, name string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
	}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	return nc, nil
}
