// Command shopmesh runs the ShopMesh shop: by default every service in one
// process on an embedded JetStream server; with --nats, the named services
// against an external cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

const usage = `usage: shopmesh <command> [flags]

commands:
  run [flags] [service...]     start the shop (all services unless some are named)
  load [flags]                 place orders against a running shop and measure them
  dlq [list | redrive SEQ...]  show dead letters, or hand them back to their reaction
  provision                    create streams, buckets and consumers on an external NATS (operator)
  archive [flags]              move events older than a day to their stream's archive (operator)
  nats-users                   print the NATS users and permissions of every service
  asyncapi                     print the AsyncAPI document: every event, its senders and receivers
  rebuild SERVICE...           drop a stopped service's local state; it is rebuilt at start
  token CUSTOMER               print a customer token (signed with a key from the admin token)
  version                      print the version, commit and nats-server version
  help [COMMAND]               show this text, or a command's flags

Run 'shopmesh run -h' for the flags; each is also the environment variable
SHOPMESH_<FLAG> (e.g. SHOPMESH_HTTP_ADDR).
`

func main() {
	err := dispatch(os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// The flags were shown, as asked.
	case err != nil:
		fmt.Fprintln(os.Stderr, "shopmesh:", err)
		os.Exit(1)
	}
}

func dispatch(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stdout)
	case "load":
		return loadCommand(args[1:], stdout)
	case "dlq":
		return dlqCommand(args[1:], stdout)
	case "provision":
		return provisionCommand(args[1:], stdout)
	case "archive":
		return archiveCommand(args[1:], stdout)
	case "nats-users":
		return natsUsersCommand(args[1:], stdout)
	case "asyncapi":
		return asyncAPICommand(args[1:], stdout)
	case "rebuild":
		return rebuildCommand(args[1:], stdout)
	case "token":
		return tokenCommand(args[1:], stdout)
	case "version":
		return versionCommand(stdout)
	case "help", "-h", "--help":
		if len(args) > 1 && args[1] != "help" {
			return dispatch([]string{args[1], "-h"}, stdout)
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}

// versionCommand prints what the binary was built from.
func versionCommand(stdout io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("no build information in this binary")
	}
	commit, modified := "unknown", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			commit = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			modified = " (modified)"
		}
	}
	server := "unknown"
	for _, d := range info.Deps {
		if d.Path == "github.com/nats-io/nats-server/v2" {
			server = d.Version
		}
	}
	fmt.Fprintf(stdout, "shopmesh %s, commit %s%s\n%s, nats-server %s\n", info.Main.Version, commit, modified, info.GoVersion, server)
	return nil
}

func runCommand(args []string, stdout io.Writer) error {
	cfg, err := parseConfig(args, os.LookupEnv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stdout)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The shop runs on its own context: a signal must not cut projections
	// off under in-flight work, but let close stop everything in order.
	s, err := startShop(context.WithoutCancel(ctx), cfg, log)
	if err != nil {
		return err
	}
	announce(stdout, log, s)
	if cfg.PprofAddr != "" {
		if _, err := serveProfiles(ctx, cfg.PprofAddr, log); err != nil {
			s.close()
			return err
		}
	}
	<-ctx.Done()
	stop() // a second Ctrl-C ends the process at once
	log.Info().Msg("shutting down")
	s.close()
	return nil
}

func newLogger(cfg config, stdout io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("--log-level: %w", err)
	}
	// RFC 3339 with milliseconds, in UTC: log lines from several processes
	// sort and compare.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
	out := stdout
	if cfg.LogFormat == "console" || (cfg.LogFormat == "" && isTerminal(stdout)) {
		out = zerolog.ConsoleWriter{Out: stdout, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// announce tells where the shop listens: a banner on a terminal, or one
// structured log event among the JSON lines. The admin token is shown only
// when it was made up at start: one that was given is not printed.
func announce(stdout io.Writer, log zerolog.Logger, s *shop) {
	if isTerminal(stdout) {
		printBanner(stdout, s)
		return
	}
	ev := log.Info().Str("http", s.httpURL).Str("nats", redacted(s.natsURL)).Bool("ephemeral", s.cfg.Ephemeral)
	if !s.cfg.Ephemeral {
		ev = ev.Str("data", s.cfg.Data) // an ephemeral shop keeps nothing there
	}
	if s.cfg.tokenGenerated {
		ev = ev.Str("admin_token", s.cfg.AdminToken)
	}
	if s.cfg.NATSContext != "" && s.server != nil {
		ev = ev.Str("nats_context", s.cfg.NATSContext)
	}
	ev.Msg("shopmesh is running")
}

func printBanner(w io.Writer, s *shop) {
	data := s.cfg.Data
	if s.cfg.Ephemeral {
		data = "(ephemeral: memory and temporary files)"
	}
	nats := redacted(s.natsURL)
	if s.cfg.NATSContext != "" && s.server != nil {
		nats += "   (nats --context " + s.cfg.NATSContext + ")"
	}
	fmt.Fprintf(w, `
  ShopMesh is running
    HTTP         %s
    %-12s %s/
    NATS         %s
    data         %s
    admin token  %s
%s
`, s.httpURL, homeName(s), s.httpURL, nats, data, shownToken(s.cfg), sharedTokenNote(s.cfg))
}

// homeName is what / serves: the console in the process that runs the
// whole shop, the links to the docs elsewhere.
func homeName(s *shop) string {
	if s.servesConsole() {
		return "console"
	}
	return "docs"
}

// sharedTokenNote reminds a process of a distributed shop that every
// process needs the same admin token: customer tokens are signed with a
// key derived from it.
func sharedTokenNote(c config) string {
	if c.NATSURL == "" || !c.tokenGenerated {
		return ""
	}
	return "    Every process of this shop needs this same token: give it with\n" +
		"    --admin-token or SHOPMESH_ADMIN_TOKEN to the others.\n"
}

// redacted is a list of NATS URLs with any password hidden.
func redacted(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// shownToken is the admin token as the banner shows it: whole if it was
// made up at start, else only that it was given.
func shownToken(c config) string {
	if c.tokenGenerated {
		return c.AdminToken
	}
	return "(as given)"
}
