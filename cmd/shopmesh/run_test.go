package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
	"github.com/shopmesh/shopmesh/mesh/natsauth"
)

// testConfig is a shop on random ports with data in the test's directory.
func testConfig(t *testing.T) config {
	cfg := defaultConfig()
	cfg.HTTPAddr, cfg.NATSAddr, cfg.NATSMonitorAddr = "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.Data = t.TempDir()
	cfg.AdminToken = meshtest.AdminToken
	cfg.NATSContext = "" // tests leave the nats CLI's contexts alone
	return cfg
}

// ephemeralShop is a shop in memory for the test, and a client of it.
func ephemeralShop(t *testing.T) (*shop, *meshtest.Client) {
	t.Helper()
	cfg := testConfig(t)
	cfg.Ephemeral = true
	s := startTestShop(t, cfg)
	t.Cleanup(s.close)
	return s, meshtest.NewClient(t, s.httpURL)
}

func startTestShop(t *testing.T, cfg config, opts ...option) *shop {
	t.Helper()
	// The shop lives as long as the test, however long that is.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := startShop(ctx, cfg, meshtest.Logger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunServesTheShopEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	s := startTestShop(t, cfg)
	c := meshtest.NewClient(t, s.httpURL)
	var p struct{ ID string }
	c.Do(http.MethodPost, "/products", map[string]any{
		"sku": "E2E-1", "name": "Teapot", "price": map[string]any{"amount": 2500, "currency": "GBP"},
	}, meshtest.Admin()).Expect(http.StatusCreated).Decode(&p)
	c.Do(http.MethodGet, "/products/"+p.ID, nil, nil).Expect(http.StatusOK)

	nc, err := nats.Connect(s.natsURL, operator(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := meshtest.Context(t)
	stream, err := js.Stream(ctx, events.ProductsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, "products.product."+p.ID+".created")
	if err != nil {
		t.Fatalf("created event not in the stream: %v", err)
	}
	if m.Header.Get("ce-type") != "shopmesh.products.product.created.v1" {
		t.Fatalf("event headers %v", m.Header)
	}
	s.close()

	// A second start on the same data finds everything as it was.
	cfg.HTTPAddr = "127.0.0.1:0"
	s = startTestShop(t, cfg)
	defer s.close()
	meshtest.NewClient(t, s.httpURL).Do(http.MethodGet, "/products/"+p.ID, nil, nil).Expect(http.StatusOK)
	waitReady(t, meshtest.NewClient(t, s.httpURL))
}

func TestEphemeralLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Ephemeral = true
	s := startTestShop(t, cfg)
	dirs := append([]string(nil), s.tempDirs...)
	s.close()
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists after close", d)
		}
	}
}

func waitReady(t *testing.T, c *meshtest.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for c.Do(http.MethodGet, "/readyz", nil, nil).Status != http.StatusOK {
		select {
		case <-ctx.Done():
			t.Fatal("never ready")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestConfigFromEnvironmentAndFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SHOPMESH_HTTP_ADDR": "0.0.0.0:9000", "SHOPMESH_EPHEMERAL": "true", "SHOPMESH_ORDER_TTL": "2m",
		"SHOPMESH_NATS_MONITOR_ADDR": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := parseConfig([]string{"orders", "--http-addr", "127.0.0.1:9100", "payments", "--ephemeral=false"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9100" || cfg.Ephemeral || cfg.OrderTTL != 2*time.Minute || cfg.NATSMonitorAddr != "" {
		t.Fatalf("config %+v", cfg)
	}
	if len(cfg.Services) != 2 || cfg.AdminToken == "" {
		t.Fatalf("services %v, token %q", cfg.Services, cfg.AdminToken)
	}
	for _, bad := range [][]string{
		{"--log-format", "xml"}, {"--admin-token", "short"}, {"--max-connections", "-1"}, {"--sync", "sometimes"},
		{"--log-level", "verbose"}, {"orders", "nosuchservice"},
	} {
		if _, err := parseConfig(bad, func(string) (string, bool) { return "", false }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestBadFlagValuesSayWhatIsExpected(t *testing.T) {
	t.Parallel()
	none := func(string) (string, bool) { return "", false }
	cases := map[string][]string{
		"use a duration such as 5s":                      {"--order-ttl", "5"},
		"--log-level must be debug, info, warn or error": {"--log-level", "verbose"},
		`no service "nosuchservice" (known: ` + strings.Join(serviceNames(defaultConfig()), ", ") + ")": {"products", "--http-addr", ":9000", "nosuchservice"},
		"--demo runs the whole shop: name no services":                                                  {"--demo", "products"},
		"--slow-gateway must be 0 or more":                                                              {"--slow-gateway", "-1s"},
	}
	for want, args := range cases {
		if _, err := parseConfig(args, none); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want it to say %q", args, err, want)
		}
	}
}

// With JSON logs the shop announces itself as one log event, and shows the
// admin token only if it made it up.
func TestAnnounceIsOneEventAndHidesAGivenToken(t *testing.T) {
	t.Parallel()
	for _, generated := range []bool{false, true} {
		var out strings.Builder
		s := &shop{cfg: config{AdminToken: "a-token-of-16-chars", tokenGenerated: generated}, httpURL: "http://x", natsURL: "nats://y"}
		announce(&out, zerolog.New(&out), s)
		var ev map[string]any
		if err := json.Unmarshal([]byte(out.String()), &ev); err != nil {
			t.Fatalf("not one JSON event: %q", out.String())
		}
		if _, shown := ev["admin_token"]; shown != generated || ev["http"] != "http://x" {
			t.Fatalf("generated=%v: %v", generated, ev)
		}
	}
}

// The banner never shows a NATS password, and a process of a distributed
// shop with a made-up admin token says that the others need it too.
func TestBannerHidesPasswordsAndSharesTheToken(t *testing.T) {
	t.Parallel()
	cfg := config{AdminToken: "a-token-of-16-chars", tokenGenerated: true, NATSURL: "nats://orders:s3cret@a:4222,nats://b:4222"}
	var banner strings.Builder
	printBanner(&banner, &shop{cfg: cfg, httpURL: "http://x", natsURL: cfg.NATSURL})
	if strings.Contains(banner.String(), "s3cret") || !strings.Contains(banner.String(), "nats://orders:xxxxx@a:4222,nats://b:4222") {
		t.Fatalf("banner shows a password, or not the URLs:\n%s", banner.String())
	}
	if !strings.Contains(banner.String(), "Every process of this shop needs this same token") {
		t.Fatalf("banner does not say the token is shared:\n%s", banner.String())
	}
	if !strings.Contains(banner.String(), "    docs         http://x/\n") {
		t.Fatalf("a process against an external server serves no console, and its banner says so:\n%s", banner.String())
	}
	var event strings.Builder
	announce(&event, zerolog.New(&event), &shop{cfg: cfg, httpURL: "http://x", natsURL: cfg.NATSURL})
	if strings.Contains(event.String(), "s3cret") {
		t.Fatalf("announcement shows a password: %s", event.String())
	}
}

// The project's nats.conf, with the dev passwords of .env, runs the shop,
// refuses anonymous clients, and keeps each service to its own subjects.
func TestRunWithTheProjectNATSConfig(t *testing.T) {
	for name, value := range dotEnv(t, "../../.env") {
		t.Setenv(name, value)
	}
	cfg := testConfig(t)
	cfg.NATSConfig = "../../nats.conf"
	cfg.NATSMonitorAddr = "127.0.0.1:0"
	s := startTestShop(t, cfg)
	defer s.close()
	c := meshtest.NewClient(t, s.httpURL)
	c.Do(http.MethodPost, "/products", map[string]any{
		"sku": "CONF-1", "name": "Kettle", "price": map[string]any{"amount": 4000, "currency": "EUR"},
	}, meshtest.Admin()).Expect(http.StatusCreated)

	if nc, err := nats.Connect(s.natsURL); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous connection: %v, want an authorization violation", err)
	}
	denied := newDenials()
	nc, err := nats.Connect(s.natsURL, append(natsauth.Options("payments", s.creds), nats.ErrorHandler(denied.record))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := "products.product.forged.created"
	if err := nc.Publish(forged, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	denied.await(t, []string{forged})
}

// dotEnv reads the NAME=value lines of an .env file.
func dotEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(name, "#") {
			vars[name] = value
		}
	}
	return vars
}

func TestLoadCommandDrivesOrdersToTheirEnd(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.NATSMonitorAddr = "127.0.0.1:0"
	s := startTestShop(t, cfg)
	defer s.close()
	args := []string{"--url", s.httpURL, "--admin-token", meshtest.AdminToken, "--orders", "20", "--concurrency", "4",
		"--decline-rate", "0.5", "--timeout", "1m", "--nats", operatorURL(s), "--nats-monitor", "http://" + s.server.MonitorAddr().String()}
	var out strings.Builder
	if err := loadCommand(args, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"20 placed, 20 ended, 0 failed", "cancelled 10", "confirmed 10", "p99", "events published", "NATS messages in", "per order"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("load report lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := loadCommand(append(args, "--json"), &out); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Ended, Failed         int
		Outcomes              map[string]int
		CostsPerOrder         costs
		RawPublishesPerSecond float64
	}
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	// A declined order publishes fewer events than a confirmed one; both
	// publish some, and every server count is there.
	if r.Ended != 20 || r.Failed != 0 || r.Outcomes["confirmed"] != 10 || r.CostsPerOrder.Events < 4 ||
		r.CostsPerOrder.NATSIn == 0 || r.RawPublishesPerSecond == 0 {
		t.Fatalf("--json result %+v", r)
	}
	if err := loadCommand([]string{"--url", "http://192.0.2.1:8080", "--admin-token", "x"}, &out); err == nil {
		t.Fatal("load accepted a shop on another machine without --allow-remote")
	}
}

// Orders that do not end in time are failures, counted by reason; a run
// cut short by its timeout still reports what it measured.
func TestLoadCommandReportsFailuresAndPartialResults(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.GatewayLatency = 3 * time.Second
	s := startTestShop(t, cfg)
	defer s.close()
	base := []string{"--url", s.httpURL, "--admin-token", meshtest.AdminToken, "--nats-monitor", ""}
	var out strings.Builder
	err := loadCommand(append(base, "--orders", "6", "--concurrency", "6", "--order-timeout", "200ms"), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "6 placed, 0 ended, 6 failed") || !strings.Contains(out.String(), "     6  not ended within 200ms") {
		t.Fatalf("failures not counted by reason:\n%s", out.String())
	}
	out.Reset()
	err = loadCommand(append(base, "--orders", "50", "--concurrency", "4", "--timeout", "1s"), &out)
	if !errors.Is(err, errTimedOut) {
		t.Fatalf("a run cut by --timeout returned %v", err)
	}
	if !strings.Contains(out.String(), "stopped early: --timeout reached") || !strings.Contains(out.String(), "placed") {
		t.Fatalf("no partial result:\n%s", out.String())
	}
}

func TestRebuildRefusesAFileInUse(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	s := startTestShop(t, cfg)
	var out strings.Builder
	if err := rebuildCommand([]string{"--data", cfg.Data, "orders"}, &out); err == nil {
		t.Fatal("rebuild removed the file of a running service")
	}
	s.close()
	if err := rebuildCommand([]string{"--data", cfg.Data, "orders"}, &out); err != nil {
		t.Fatal(err)
	}
	// Emptied, not removed: a missing file is restored from its snapshot,
	// and a rebuild is from the streams.
	for _, file := range []string{"orders.db", "orders-timeline.db"} {
		if fi, err := os.Stat(filepath.Join(cfg.Data, "state", file)); err != nil || fi.Size() != 0 {
			t.Fatalf("%s not emptied by rebuild: %v", file, err)
		}
	}
	out.Reset()
	if err := rebuildCommand([]string{"--data", cfg.Data, "orders"}, &out); err != nil || !strings.Contains(out.String(), "no local state to empty") {
		t.Fatalf("rebuild of nothing said %q, %v", out.String(), err)
	}
	s = startTestShop(t, cfg)
	defer s.close()
	waitReady(t, meshtest.NewClient(t, s.httpURL))
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	for _, args := range [][]string{{"run", "--help"}, {"help", "load"}, {"dlq", "-h"}, {"rebuild", "--help"}, {"token", "-h"}} {
		if err := dispatch(args, &out); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want help shown (exit 0)", args, err)
		}
	}
	out.Reset()
	if err := dispatch([]string{"version"}, &out); err != nil || !strings.Contains(out.String(), "nats-server v2.") {
		t.Fatalf("version: %v %q", err, out.String())
	}
}

// operatorURL is the shop's NATS URL with the operator's credentials in it.
func operatorURL(s *shop) string {
	u, _ := url.Parse(s.natsURL)
	u.User = url.UserPassword(natsauth.Admin, s.creds[natsauth.Admin])
	return u.String()
}
