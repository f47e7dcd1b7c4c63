package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

// config is everything `shopmesh run` can be told, by flag or by the
// SHOPMESH_<NAME> environment variable of each flag.
type config struct {
	HTTPAddr           string
	NATSAddr           string
	NATSMonitorAddr    string
	Data               string
	Ephemeral          bool
	NATSURL            string
	NATSConfig         string
	NATSContext        string
	AdminToken         string
	LogFormat          string
	LogLevel           string
	OrderTTL           time.Duration
	GatewayLatency     time.Duration
	GatewayFailureRate float64
	StreamReplicas     int
	Sync               string
	MaxConnections     int
	MaxOpenOrders      int
	OTLPEndpoint       string
	TraceURL           string
	Demo               bool
	SlowGateway        time.Duration
	Services           []string
	PprofAddr          string
	ArchiveAfter       time.Duration
	// The bounds of the followers of the streams of changes, and the
	// proxies whose X-Forwarded-For names the client.
	FollowersPerAddress int
	MaxFollowers        int
	TrustedProxies      string
	// tokenGenerated is set when the admin token was made up at start,
	// so the banner must show it.
	tokenGenerated bool
}

func defaultConfig() config {
	return config{
		HTTPAddr:        "127.0.0.1:8080",
		NATSAddr:        "127.0.0.1:4222",
		NATSMonitorAddr: "127.0.0.1:8222",
		Data:            "./data",
		NATSContext:     "shopmesh",
		LogLevel:        "info",
		OrderTTL:        15 * time.Minute,
		ArchiveAfter:    ops.DefaultArchiveAfter,

		FollowersPerAddress: httpapi.DefaultFollowersPerAddress,
		MaxFollowers:        httpapi.DefaultMaxFollowers,
	}
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP listen address")
	fs.StringVar(&c.NATSAddr, "nats-addr", c.NATSAddr, "client address of the embedded NATS server")
	fs.StringVar(&c.NATSMonitorAddr, "nats-monitor-addr", c.NATSMonitorAddr, "monitoring address of the embedded NATS server (empty: off)")
	fs.StringVar(&c.Data, "data", c.Data, "directory for JetStream storage and the services' bbolt files")
	fs.BoolVar(&c.Ephemeral, "ephemeral", c.Ephemeral, "keep everything in memory and temporary files; nothing is left behind")
	fs.StringVar(&c.NATSURL, "nats", c.NATSURL, "comma-separated URLs of an external NATS server or cluster (then nothing is embedded)")
	fs.StringVar(&c.NATSConfig, "nats-config", c.NATSConfig, "nats-server configuration file for the embedded server")
	fs.StringVar(&c.NATSContext, "nats-context", c.NATSContext, "nats CLI context to write for the embedded server's operator user (empty: none)")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "bearer token for admin operations (empty: a random one, shown at start)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or console (default: console on a terminal, json otherwise)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.Var((*duration)(&c.OrderTTL), "order-ttl", "how long an order waits for payment before it expires")
	fs.Var((*duration)(&c.GatewayLatency), "gateway-latency", "simulated payment gateway latency")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", c.OTLPEndpoint, "OTLP/HTTP endpoint to export traces to, e.g. http://localhost:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", 1, "replicas of each stream and bucket (3 on a 3-node cluster)")
	fs.IntVar(&c.MaxOpenOrders, "max-open-orders", c.MaxOpenOrders, "orders in their saga before new ones get 503 (0: as many as end within --order-ttl at the current pace, at least 1000)")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "HTTP connections served at once; more get 503 (0: from the file-descriptor limit, keeping a reserve for JetStream)")
	fs.StringVar(&c.Sync, "sync", c.Sync, "always: flush every write to disk before acknowledging it (embedded server and local state); default: the server flushes every 2 minutes")
	fs.StringVar(&c.TraceURL, "trace-url", c.TraceURL, "a trace's page in the UI of the --otlp-endpoint's backend, with {traceId} to replace, e.g. http://localhost:16686/trace/{traceId}: the console links each order's trace")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "the demo shop: a catalog of a dozen products with stock (added once per --data), and anyone may sign up as a new customer and watch the mesh on the console")
	fs.Var((*duration)(&c.SlowGateway), "slow-gateway", "how long the gateway takes to charge the token tok_slow, which the console then offers (0: tok_slow is unknown)")
	fs.Var((*duration)(&c.ArchiveAfter), "archive-after", "move events older than this from their stream to its archive, where they stay readable (embedded server; 0: never)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve Go's runtime profiles (heap, CPU) at /debug/pprof/ on this address, e.g. 127.0.0.1:6060 (empty: off)")
	fs.IntVar(&c.FollowersPerAddress, "followers-per-address", c.FollowersPerAddress, "streams of changes (Server-Sent Events) one client address may follow at once (an IPv6 client's /64); more get 429")
	fs.IntVar(&c.MaxFollowers, "max-followers", c.MaxFollowers, "streams of changes followed at once in all; more get 503")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "comma-separated addresses or CIDR prefixes of proxies in front of the shop, whose X-Forwarded-For names the client (empty: none is trusted)")
	fs.Float64Var(&c.GatewayFailureRate, "gateway-failure-rate", c.GatewayFailureRate, "share of gateway calls that fail transiently (0-1)")
}

// parseConfig reads flags after applying SHOPMESH_* environment variables,
// so a flag on the command line wins over the environment. A variable set
// to the empty string sets the flag empty (SHOPMESH_NATS_MONITOR_ADDR=
// turns monitoring off, as --nats-monitor-addr= does). Flags may come
// before, between or after the service names.
func parseConfig(args []string, env func(string) (string, bool)) (config, error) {
	c := defaultConfig()
	c.OTLPEndpoint, _ = env("OTEL_EXPORTER_OTLP_ENDPOINT")
	fs := flag.NewFlagSet("shopmesh run", flag.ContinueOnError)
	c.flags(fs)
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "SHOPMESH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, set := env(name); set {
			if err := fs.Set(f.Name, v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	for {
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		if fs.NArg() == 0 {
			break
		}
		c.Services, args = append(c.Services, fs.Arg(0)), fs.Args()[1:]
	}
	return c, c.check()
}

func (c *config) check() error {
	if c.LogFormat != "" && c.LogFormat != "json" && c.LogFormat != "console" {
		return fmt.Errorf("--log-format must be json or console, not %q", c.LogFormat)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		return fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	// Unknown service names are refused before anything starts.
	if _, err := selectServices(allServices(*c), c.Services); err != nil {
		return err
	}
	if c.GatewayFailureRate < 0 || c.GatewayFailureRate > 1 {
		return fmt.Errorf("--gateway-failure-rate must be between 0 and 1")
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		return fmt.Errorf("--stream-replicas must be 1 to 5")
	}
	if c.MaxOpenOrders < 0 {
		return fmt.Errorf("--max-open-orders must be 0 (automatic) or more")
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("--max-connections must be 0 (automatic) or more")
	}
	if c.FollowersPerAddress < 1 || c.MaxFollowers < 1 {
		return fmt.Errorf("--followers-per-address and --max-followers must be at least 1")
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if c.Sync != "" && c.Sync != "always" {
		return fmt.Errorf("--sync must be always or empty, not %q", c.Sync)
	}
	if c.Demo && len(c.Services) > 0 {
		return fmt.Errorf("--demo runs the whole shop: name no services")
	}
	if c.SlowGateway < 0 {
		return fmt.Errorf("--slow-gateway must be 0 or more")
	}
	if c.OrderTTL <= 0 {
		return fmt.Errorf("--order-ttl must be positive")
	}
	if c.ArchiveAfter != 0 && c.ArchiveAfter <= c.OrderTTL {
		return fmt.Errorf("--archive-after must be 0 (never) or longer than --order-ttl (%s): what is archived is orders that are over", c.OrderTTL)
	}
	switch {
	case c.AdminToken == "":
		c.AdminToken, c.tokenGenerated = randomToken(), true
	case len(c.AdminToken) < MinAdminToken:
		return fmt.Errorf("--admin-token must be at least %d characters: it guards the catalog, stock and refunds", MinAdminToken)
	}
	return nil
}

// duration is a flag that says which form it expects when a value is not
// a duration ("5" is not: "5s" is).
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }

func (d *duration) Set(v string) error {
	parsed, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("use a duration such as 5s, 2m or 1h30m")
	}
	*d = duration(parsed)
	return nil
}

// MinAdminToken is the shortest admin token accepted.
const MinAdminToken = 16

// trustedProxies reads --trusted-proxies: addresses, or prefixes in CIDR
// notation.
func (c config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, field := range strings.Split(c.TrustedProxies, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		p, err := netip.ParsePrefix(field)
		if err != nil {
			addr, aerr := netip.ParseAddr(field)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is neither an address nor a CIDR prefix", field)
			}
			p = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// syncAlways reports whether every write is flushed to disk.
func (c config) syncAlways() bool { return c.Sync == "always" }

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
