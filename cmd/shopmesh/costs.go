package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// costs are the running totals that say what the write path does: read
// before and after a run, their difference divided by the orders is what
// one order costs. The shop's own counters come from its /metrics; the
// NATS server's, when its monitoring endpoint is known, from /varz and /jsz.
type costs struct {
	Events     float64 `json:"events"`     // domain events published
	Conflicts  float64 `json:"conflicts"`  // writes refused by an expectation, decided again
	ViewWrites float64 `json:"viewWrites"` // KV puts of read-model views
	Deliveries float64 `json:"deliveries"` // messages handed to reactions (each acked or nacked)
	Applied    float64 `json:"applied"`    // events applied by projections
	Commits    float64 `json:"commits"`    // local-state write transactions
	Flushed    float64 `json:"flushed"`    // of which flushed to disk (fsync)
	NATSIn     float64 `json:"natsIn"`     // every message the server received
	NATSOut    float64 `json:"natsOut"`    // every message the server sent
	JSAPI      float64 `json:"jsApi"`      // JetStream API requests (stream info, consumer info...)
}

// readCosts reads the counters. monitorURL may be empty: then the server's
// counters stay zero.
func readCosts(ctx context.Context, client *http.Client, shopURL, monitorURL string) (costs, error) {
	var c costs
	series, err := scrape(ctx, client, shopURL+"/metrics")
	if err != nil {
		return c, err
	}
	c.Events = series.sum("shopmesh_events_published_total", "")
	c.Conflicts = series.sum("shopmesh_write_conflicts_total", "")
	c.ViewWrites = series.sum("shopmesh_view_writes_total", "")
	c.Deliveries = series.sum("shopmesh_events_handled_total", "")
	c.Applied = series.sum("shopmesh_events_applied_total", "")
	c.Commits = series.sum("shopmesh_state_commits_total", "")
	c.Flushed = series.sum("shopmesh_state_commits_total", `flushed="true"`)
	if monitorURL == "" {
		return c, nil
	}
	var varz struct {
		InMsgs  float64 `json:"in_msgs"`
		OutMsgs float64 `json:"out_msgs"`
	}
	var jsz struct {
		API struct {
			Total float64 `json:"total"`
		} `json:"api"`
	}
	if err := getJSON(ctx, client, monitorURL+"/varz", &varz); err != nil {
		return c, err
	}
	if err := getJSON(ctx, client, monitorURL+"/jsz", &jsz); err != nil {
		return c, err
	}
	c.NATSIn, c.NATSOut, c.JSAPI = varz.InMsgs, varz.OutMsgs, jsz.API.Total
	return c, nil
}

// perOrder is what happened between before and c, per order.
func (c costs) perOrder(before costs, orders int) costs {
	n := float64(max(orders, 1))
	return costs{
		Events: (c.Events - before.Events) / n, Conflicts: (c.Conflicts - before.Conflicts) / n, ViewWrites: (c.ViewWrites - before.ViewWrites) / n,
		Deliveries: (c.Deliveries - before.Deliveries) / n, Applied: (c.Applied - before.Applied) / n,
		Commits: (c.Commits - before.Commits) / n, Flushed: (c.Flushed - before.Flushed) / n,
		NATSIn: (c.NATSIn - before.NATSIn) / n, NATSOut: (c.NATSOut - before.NATSOut) / n, JSAPI: (c.JSAPI - before.JSAPI) / n,
	}
}

// rows lists the costs with their names, in the order they are printed.
func (c costs) rows() []costRow {
	return []costRow{
		{"events published", c.Events}, {"write conflicts", c.Conflicts}, {"KV view writes", c.ViewWrites},
		{"reaction deliveries", c.Deliveries}, {"projection applies", c.Applied},
		{"bbolt commits", c.Commits}, {"bbolt commits flushed", c.Flushed},
		{"NATS messages in", c.NATSIn}, {"NATS messages out", c.NATSOut}, {"JetStream API calls", c.JSAPI},
	}
}

type costRow struct {
	Name  string
	Value float64
}

// metricSeries are Prometheus samples by series ("name{labels}").
type metricSeries map[string]float64

// sum adds the samples of metric whose labels contain label (any if empty).
func (s metricSeries) sum(metric, label string) float64 {
	total := 0.0
	for series, v := range s {
		name, labels, _ := strings.Cut(series, "{")
		if name == metric && strings.Contains(labels, label) {
			total += v
		}
	}
	return total
}

// scrape reads the Prometheus text format: "name{labels} value" per line.
func scrape(ctx context.Context, client *http.Client, url string) (metricSeries, error) {
	body, err := get(ctx, client, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	out := metricSeries{}
	lines := bufio.NewScanner(body)
	for lines.Scan() {
		line := lines.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, lines.Err()
}

func getJSON(ctx context.Context, client *http.Client, url string, out any) error {
	body, err := get(ctx, client, url)
	if err != nil {
		return err
	}
	defer body.Close()
	return json.NewDecoder(body).Decode(out)
}

func get(ctx context.Context, client *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}
