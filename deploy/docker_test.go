//go:build cluster

package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cluster drives the compose project of the chaos test through
// deploy/cluster.sh and the docker CLI.
type cluster struct {
	t       *testing.T
	root    string // the repository
	project string
	env     []string
}

// The test's own project name and ports, so that it runs beside a
// `task cluster:up` on the default ones.
const (
	project    = "shopmesh-chaos"
	httpPort   = 18080
	adminToken = "chaos-admin-token-0123456789"
	orderTTL   = time.Minute
	// adminPassword is the NATS admin's, which the test reads streams as.
	adminPassword = "chaos-admin-password"
)

// natsNodes are the NATS services, with the client and monitoring ports
// published for each on 127.0.0.1.
var natsNodes = []struct {
	name          string
	port, monitor int
}{{"nats-1", 14222, 18222}, {"nats-2", 14223, 18223}, {"nats-3", 14224, 18224}}

// replicas are the shopmesh services, two of each.
var replicas = []string{
	"products-1", "products-2", "inventory-1", "inventory-2",
	"orders-1", "orders-2", "payments-1", "payments-2",
}

func newCluster(t *testing.T) *cluster {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"COMPOSE_PROJECT_NAME="+project,
		fmt.Sprintf("SHOPMESH_HTTP_PORT=%d", httpPort),
		"SHOPMESH_ADMIN_TOKEN="+adminToken,
		// An order whose saga lost a step expires within the checks' wait
		// (and a payment it took is refunded), rather than after 15m.
		"SHOPMESH_ORDER_TTL="+orderTTL.String(),
		"SHOPMESH_LOG_LEVEL=debug",
		"SHOPMESH_NATS_ADMIN_PASSWORD="+adminPassword,
		"SHOPMESH_NATS_PRODUCTS_PASSWORD=chaos-products",
		"SHOPMESH_NATS_INVENTORY_PASSWORD=chaos-inventory",
		"SHOPMESH_NATS_ORDERS_PASSWORD=chaos-orders",
		"SHOPMESH_NATS_PAYMENTS_PASSWORD=chaos-payments",
	)
	for i, n := range natsNodes {
		env = append(env, fmt.Sprintf("NATS_%d_PORT=%d", i+1, n.port), fmt.Sprintf("NATS_%d_MONITOR_PORT=%d", i+1, n.monitor))
	}
	return &cluster{t: t, root: root, project: project, env: env}
}

// run runs a command in the repository with the cluster's environment and
// returns its output; a failure ends the test.
func (c *cluster) run(timeout time.Duration, name string, args ...string) string {
	c.t.Helper()
	out, err := c.try(timeout, name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) try(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = c.root, c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// up builds the images and starts the cluster, and removes it when the
// test ends (keeping the logs of a failed run in build/chaos-logs.txt).
func (c *cluster) up() {
	c.t.Helper()
	_, _ = c.try(2*time.Minute, "bash", "deploy/cluster.sh", "down")
	c.t.Cleanup(c.down)
	start := time.Now()
	c.run(15*time.Minute, "bash", "deploy/cluster.sh", "up")
	c.t.Logf("cluster built and healthy in %s", time.Since(start).Round(time.Second))
}

func (c *cluster) down() {
	if c.t.Failed() {
		logs, _ := c.try(time.Minute, "bash", "deploy/cluster.sh", "compose", "logs", "--no-color")
		file := filepath.Join(c.root, "build", "chaos-logs.txt")
		if os.WriteFile(file, []byte(logs), 0o644) == nil {
			c.t.Logf("the cluster's logs are in %s", file)
		}
	}
	if os.Getenv("CLUSTER_KEEP") != "" {
		c.t.Logf("CLUSTER_KEEP: the cluster is left running (project %s)", c.project)
		return
	}
	if out, err := c.try(2*time.Minute, "bash", "deploy/cluster.sh", "down"); err != nil {
		c.t.Logf("down: %v\n%s", err, out)
	}
}

// container is the id of a service's container.
func (c *cluster) container(service string) string {
	c.t.Helper()
	id := c.run(time.Minute, "bash", "deploy/cluster.sh", "compose", "ps", "-q", service)
	if id == "" {
		c.t.Fatalf("no container for %s", service)
	}
	return id
}

func (c *cluster) docker(args ...string) string {
	c.t.Helper()
	return c.run(2*time.Minute, "docker", args...)
}

// network is the compose project's default network.
func (c *cluster) network() string { return c.project + "_default" }

// health is a container's state and health, e.g. "running healthy".
func (c *cluster) health(id string) string {
	out, err := c.try(30*time.Second, "docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id)
	if err != nil {
		return "unknown"
	}
	return out
}

// awaitHealthy waits until every container of the project is healthy (the
// one-shot ones exited 0) and returns how long that took.
func (c *cluster) awaitHealthy(limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	env := c.env
	defer func() { c.env = env }()
	c.env = append(slices.Clone(env), fmt.Sprintf("CLUSTER_WAIT_SECONDS=%d", int(limit.Seconds())))
	c.run(limit+time.Minute, "bash", "deploy/cluster.sh", "wait")
	return time.Since(start)
}
