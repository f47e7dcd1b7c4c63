package mesh

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus series of one process. A nil *Metrics records
// nothing, which keeps tests and tools free of registries.
type Metrics struct {
	reg       *prometheus.Registry
	commands  *prometheus.HistogramVec
	queries   *prometheus.HistogramVec
	reactions *prometheus.CounterVec
	published *prometheus.CounterVec
	http      *prometheus.HistogramVec
}

// NewMetrics registers the mesh's series with the Go runtime collectors.
func NewMetrics() *Metrics {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		commands: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopmesh_command_duration_seconds", Help: "Commands handled, by name and outcome.", Buckets: buckets,
		}, []string{"command", "outcome"}),
		queries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopmesh_query_duration_seconds", Help: "Queries handled, by name and outcome.", Buckets: buckets,
		}, []string{"query", "outcome"}),
		reactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopmesh_events_handled_total", Help: "Events handled by reactions: ok, retried, dead.",
		}, []string{"consumer", "outcome"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopmesh_events_published_total", Help: "Events published, by stream.",
		}, []string{"source"}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopmesh_http_request_duration_seconds", Help: "HTTP requests by route and status.", Buckets: buckets,
		}, []string{"method", "route", "status"}),
	}
	m.reg.MustRegister(m.commands, m.queries, m.reactions, m.published, m.http,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics for /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func (m *Metrics) observeCommand(name string, err error, d time.Duration) {
	if m != nil {
		m.commands.WithLabelValues(name, outcome(err)).Observe(d.Seconds())
	}
}

func (m *Metrics) observeQuery(name string, err error, d time.Duration) {
	if m != nil {
		m.queries.WithLabelValues(name, outcome(err)).Observe(d.Seconds())
	}
}

func (m *Metrics) observeReaction(consumer, result string) {
	if m != nil {
		m.reactions.WithLabelValues(consumer, result).Inc()
	}
}

func (m *Metrics) observePublish(source string, n int) {
	if m != nil {
		m.published.WithLabelValues(source).Add(float64(n))
	}
}

func (m *Metrics) observeHTTP(method, route string, status int, d time.Duration) {
	if m != nil {
		m.http.WithLabelValues(method, route, http.StatusText(status)).Observe(d.Seconds())
	}
}
