package main

//go:generate go run . nats-users -o ../../deploy/nats/users.conf

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

// provisionCommand creates every service's streams, buckets and durable
// consumers on an external server or cluster, as the operator. Services
// started with --nats only bind to them: their users may not create them.
func provisionCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("shopmesh provision", flag.ContinueOnError)
	natsURL := fs.String("nats", envDefault("SHOPMESH_NATS", ""), "NATS URLs (default: the shopmesh nats context)")
	replicas := fs.Int("stream-replicas", envInt("SHOPMESH_STREAM_REPLICAS", 1), "replicas of each stream and bucket (3 on a 3-node cluster)")
	memory := fs.Bool("memory", false, "keep streams and buckets in memory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *replicas < 1 || *replicas > 5 {
		return fmt.Errorf("--stream-replicas must be 1 to 5")
	}
	js, closeConn, err := connectOperator(*natsURL, "shopmesh-provision")
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	plans := allPlans(defaultConfig())
	st := mesh.Storage{Memory: *memory, Replicas: *replicas}
	if err := provisionUntilDone(ctx, js, st, plans); err != nil {
		return err
	}
	for _, p := range plans {
		fmt.Fprintf(stdout, "%s: streams, bucket %q and durable consumers %v ready\n", p.Service, p.Bucket, durableNames(p))
	}
	return nil
}

// archiveCommand moves the history of every stream that has an archive
// into it, on an external server or cluster, as the operator (ADR 25): once,
// or every --every until stopped. `shopmesh run` with an embedded server
// does this itself.
func archiveCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("shopmesh archive", flag.ContinueOnError)
	natsURL := fs.String("nats", envDefault("SHOPMESH_NATS", ""), "NATS URLs (default: the shopmesh nats context)")
	after := ops.DefaultArchiveAfter
	fs.Var((*duration)(&after), "after", "archive events older than this")
	overlap := ops.DefaultArchiveOverlap
	fs.Var((*duration)(&overlap), "overlap", "how much longer the stream keeps an archived event")
	var every time.Duration
	fs.Var((*duration)(&every), "every", "run a round this often until stopped (0: one round)")
	healthAddr := fs.String("health-addr", "", "with --every: serve /readyz on this address, 503 once no round has archived every stream for three times --every")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var keepTrying []nats.Option
	if every > 0 { // a server that restarts must not end a long-running archiver
		keepTrying = append(keepTrying, nats.MaxReconnects(-1))
	}
	js, closeConn, err := connectOperator(*natsURL, "shopmesh-archive", keepTrying...)
	if err != nil {
		return err
	}
	defer closeConn()
	streams := archivedStreams(allPlans(defaultConfig()))
	log, err := newLogger(defaultConfig(), stdout)
	if err != nil {
		return err
	}
	a := &ops.Archiver{JS: js, After: after, Overlap: overlap, Log: log}
	if every > 0 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if *healthAddr != "" {
			if err := serveArchiveHealth(ctx, *healthAddr, func() error { return a.Problem(3 * every) }); err != nil {
				return err
			}
		}
		a.Run(ctx, streams, every)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, name := range streams {
		done, err := a.ArchiveAll(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d events copied (%d gaps), archived through %d; %d removed, the stream begins at %d",
			name, done.Copied, done.Gaps, done.Through, done.Removed, done.First)
		if done.HeldBy != "" {
			fmt.Fprintf(stdout, " (held back by consumer %s)", done.HeldBy)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// serveArchiveHealth answers /readyz with problem's answer until ctx ends:
// what a container's health check asks.
func serveArchiveHealth(ctx context.Context, addr string, problem func() error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--health-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := problem(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return nil
}

// natsUsersCommand prints the nats-server users of every service, as
// deploy/nats/users.conf holds them (go generate writes that file).
func natsUsersCommand(args []string, stdout io.Writer) error {
	return generatedCommand("nats-users", args, stdout, func() ([]byte, error) {
		return []byte(natsauth.Config(allPlans(defaultConfig()))), nil
	})
}

// generatedCommand prints what generate makes, or writes it to the file
// given with -o: how go generate keeps the committed copy current.
func generatedCommand(name string, args []string, stdout io.Writer, generate func() ([]byte, error)) error {
	fs := flag.NewFlagSet("shopmesh "+name, flag.ContinueOnError)
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	data, err := generate()
	if err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(data)
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

// connectOperator connects a tool as the operator. The password comes
// from SHOPMESH_NATS_ADMIN_PASSWORD, or else from the nats context that
// `shopmesh run` wrote for its embedded server, which also gives the URL
// when there is none.
func connectOperator(natsURL, name string, extra ...nats.Option) (jetstream.JetStream, func(), error) {
	c, found, err := natsauth.ReadContext(envDefault("SHOPMESH_NATS_CONTEXT", "shopmesh"))
	if err != nil {
		return nil, nil, err
	}
	if natsURL == "" {
		natsURL = "nats://127.0.0.1:4222"
		if found {
			natsURL = c.URL
		}
	}
	var opts []nats.Option
	switch pw := os.Getenv(natsauth.PasswordVar(natsauth.Admin)); {
	case pw != "":
		opts = append(opts, nats.UserInfo(natsauth.Admin, pw))
	case found && c.URL == natsURL:
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case !hasUser(natsURL):
		return nil, nil, fmt.Errorf("no operator password for %s: set %s, or start `shopmesh run`, which writes a nats context", natsURL, natsauth.PasswordVar(natsauth.Admin))
	}
	// A one-off command gives up soon; one that runs on passes extra.
	opts = append(opts, nats.MaxReconnects(2))
	nc, err := ops.Connect(natsURL, name, append(opts, extra...)...)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}

func hasUser(natsURL string) bool {
	u, err := url.Parse(natsURL)
	return err == nil && u.User != nil
}

func durableNames(p mesh.Plan) []string {
	names := make([]string, len(p.Durables))
	for i, d := range p.Durables {
		names[i] = d.Name
	}
	return names
}

// errNoPeersForPlacement is JetStream refusing to place a replicated
// stream because the meta leader counts a server offline. On a cluster
// that has just started that means it has not heard from every server yet.
const errNoPeersForPlacement = jetstream.ErrorCode(server.JSClusterNoPeersErrF)

func clusterForming(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errNoPeersForPlacement
}

// provisionUntilDone provisions, trying again while JetStream cannot answer
// yet (a cluster that is still electing its meta leader, or has not heard
// from all its servers), until ctx ends.
func provisionUntilDone(ctx context.Context, js jetstream.JetStream, st mesh.Storage, plans []mesh.Plan) error {
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		attempt, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := mesh.Provision(attempt, js, st, mesh.ReactionOptions{}, plans...)
		cancel()
		if err == nil || !(mesh.Retryable(err) || clusterForming(err)) {
			return err
		}
		select {
		case <-ctx.Done():
			if clusterForming(err) {
				return fmt.Errorf("%w: --stream-replicas %d needs that many JetStream servers in the cluster, each of them up", err, st.Replicas)
			}
			return fmt.Errorf("%w (still so when provisioning gave up)", err)
		case <-time.After(wait):
		}
	}
}
