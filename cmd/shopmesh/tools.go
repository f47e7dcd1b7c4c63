package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/ops"
	ordersvc "github.com/shopmesh/shopmesh/svc/orders"
	orders "github.com/shopmesh/shopmesh/svc/orders/domain"
	bolt "go.etcd.io/bbolt"
)

// dlqCommand lists dead letters or hands one back to its reaction.
func dlqCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("shopmesh dlq", flag.ContinueOnError)
	url := fs.String("nats", envDefault("SHOPMESH_NATS", ""), "NATS URLs (default: the shopmesh nats context)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js, closeConn, err := connectOperator(*url, "shopmesh-dlq")
	if err != nil {
		return err
	}
	defer closeConn()
	switch rest := fs.Args(); {
	case len(rest) == 0 || rest[0] == "list":
		return listDeadLetters(ctx, js, stdout)
	case rest[0] == "redrive" && len(rest) > 1:
		return redrive(ctx, js, rest[1:], stdout)
	}
	return fmt.Errorf("usage: shopmesh dlq [--nats URL] [list | redrive SEQ...]")
}

func listDeadLetters(ctx context.Context, js jetstream.JetStream, stdout io.Writer) error {
	dead, err := ops.DeadLetters(ctx, js)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tSTORED\tCONSUMER\tSUBJECT\tERROR")
	for _, d := range dead {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", d.Seq, d.Stored.Format(time.RFC3339), d.Consumer, d.Subject, d.Error)
	}
	return w.Flush()
}

func redrive(ctx context.Context, js jetstream.JetStream, seqs []string, stdout io.Writer) error {
	for _, s := range seqs {
		seq, err := mesh.ParseSeq(s)
		if err != nil {
			return err
		}
		if err := ops.Redrive(ctx, js, seq); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dead letter %d handled and removed\n", seq)
	}
	return nil
}

// rebuildCommand empties services' bbolt files so that their next start
// rebuilds them from the streams, from the first event (not from a
// snapshot). The services must be stopped: a file in
// use is locked and left alone.
func rebuildCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("shopmesh rebuild", flag.ContinueOnError)
	data := fs.String("data", envDefault("SHOPMESH_DATA", "./data"), "the --data directory of shopmesh run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	names, known := fs.Args(), serviceNames(defaultConfig())
	if len(names) == 0 {
		return fmt.Errorf("usage: shopmesh rebuild [--data DIR] SERVICE... (%s)", strings.Join(known, ", "))
	}
	for _, name := range names {
		if !slices.Contains(known, name) {
			return fmt.Errorf("no service %q", name)
		}
		removed := false
		for _, file := range stateFiles(name) {
			gone, err := emptyUnlocked(filepath.Join(*data, "state", file+".db"))
			if err != nil {
				return err
			}
			removed = removed || gone
		}
		if !removed {
			fmt.Fprintf(stdout, "%s: no local state to empty\n", name)
			continue
		}
		fmt.Fprintf(stdout, "%s: local state emptied; it is rebuilt from the first event at the next start\n", name)
	}
	return nil
}

// stateFiles are the bbolt files of a service: orders keeps its
// timeline's index in a second one.
func stateFiles(service string) []string {
	if service == ordersvc.Name {
		return []string{service, ordersvc.TimelineFile}
	}
	return []string{service}
}

// emptyUnlocked empties a bbolt file that no process holds, and says
// whether there was one.
func emptyUnlocked(path string) (bool, error) {
	if fi, err := os.Stat(path); os.IsNotExist(err) || (err == nil && fi.Size() == 0) {
		return false, nil // nothing to rebuild
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return false, fmt.Errorf("%s is in use: stop the service first (%w)", path, err)
	}
	_ = db.Close()
	// The file's open marker (mesh.OpenDB) goes with it.
	if err := os.Remove(path + ".open"); err != nil && !os.IsNotExist(err) {
		return false, err
	}
	// An empty file is left in its place: a missing one is restored from
	// its latest snapshot at start, and a rebuild is from the streams.
	return true, os.WriteFile(path, nil, 0o600)
}

// tokenCommand prints a token for a customer. It needs no running shop:
// the token is signed with a key derived from the admin token, which every
// process of the shop shares.
func tokenCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("shopmesh token", flag.ContinueOnError)
	admin := fs.String("admin-token", envDefault("SHOPMESH_ADMIN_TOKEN", ""), "the shop's admin token")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 1 || !orders.ValidCustomer(fs.Arg(0)):
		return errors.New("usage: shopmesh token [--admin-token T] [--ttl 24h] CUSTOMER (1-100 letters, digits, '.', '_', '@' or '-')")
	case len(*admin) < MinAdminToken:
		return fmt.Errorf("--admin-token (or SHOPMESH_ADMIN_TOKEN) must be the shop's, %d characters at least", MinAdminToken)
	case *ttl < time.Minute:
		return errors.New("--ttl must be a minute or more")
	}
	token, _ := httpapi.NewCustomerTokens(*admin).Issue(fs.Arg(0), *ttl, time.Now())
	fmt.Fprintln(stdout, token)
	return nil
}

func envDefault(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func envInt(name string, fallback int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return fallback
}
