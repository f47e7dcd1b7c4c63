package observe

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	lag       *lagCollector
	// What the write path costs, to count it per order.
	viewWrites *prometheus.CounterVec
	commits    *prometheus.CounterVec
	applied    *prometheus.CounterVec
	conflicts  prometheus.Counter
	setAside   *prometheus.CounterVec
	open       *prometheus.GaugeVec
	openLimit  *prometheus.GaugeVec
	refused    *prometheus.CounterVec
	snapshots  *prometheus.CounterVec
	// Followers of the streams of changes, and those dropped for falling
	// behind or not reading.
	followers *prometheus.GaugeVec
	dropped   *prometheus.CounterVec
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
			Name: "shopmesh_events_published_total", Help: "Events published, by type.",
		}, []string{"type"}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopmesh_http_request_duration_seconds", Help: "HTTP requests by route and status.", Buckets: buckets,
		}, []string{"method", "route", "status"}),
	}
	m.viewWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopmesh_view_writes_total", Help: "Read-model views written to their KV bucket.",
	}, []string{"bucket"})
	m.commits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopmesh_state_commits_total", Help: "Local-state (bbolt) write transactions of projections, by service and whether they were flushed to disk.",
	}, []string{"service", "flushed"})
	m.applied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopmesh_events_applied_total", Help: "Events applied by projections to local state, by service.",
	}, []string{"service"})
	m.conflicts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shopmesh_write_conflicts_total", Help: "Writes JetStream refused because another writer got there first; each is decided again.",
	})
	m.setAside = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopmesh_events_set_aside_total", Help: "Events a projection could not apply, set aside in the dead-letter stream, by service.",
	}, []string{"service"})
	m.open = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shopmesh_admission_open", Help: "Work accepted and not ended yet (orders in their saga), by what admits it.",
	}, []string{"admission"})
	m.openLimit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shopmesh_admission_limit", Help: "Open work accepted before new work is refused: what drains within its deadline.",
	}, []string{"admission"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopmesh_admission_refused_total", Help: "New work refused (503 with Retry-After) because the backlog could not finish in time.",
	}, []string{"admission"})
	m.snapshots = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopmesh_snapshots_total", Help: "Snapshots of local state, by service and what happened: taken (stored in the service's snapshot bucket) or restored (by a replica without its file).",
	}, []string{"service", "event"})
	m.followers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shopmesh_followers", Help: "Clients following a stream of changes (Server-Sent Events) now, by stream.",
	}, []string{"stream"})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopmesh_followers_dropped_total", Help: "Followers of a stream of changes disconnected because they fell too far behind or did not read, by stream.",
	}, []string{"stream"})
	m.lag = &lagCollector{
		pending:  prometheus.NewDesc("shopmesh_consumer_pending", "Events not yet delivered to a reaction.", []string{"consumer"}, nil),
		inFlight: prometheus.NewDesc("shopmesh_consumer_in_flight", "Events delivered to a reaction and not yet acked.", []string{"consumer"}, nil),
		stuck:    prometheus.NewDesc("shopmesh_consumer_stuck", "Events a reaction of this process keeps failing on; they are still retried.", []string{"consumer"}, nil),
	}
	m.reg.MustRegister(m.commands, m.queries, m.reactions, m.published, m.http, m.lag, m.viewWrites, m.commits, m.applied, m.conflicts, m.setAside, m.open, m.openLimit, m.refused, m.snapshots, m.followers, m.dropped,
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

// ObserveCommand records a command handled, by its name and outcome.
func (m *Metrics) ObserveCommand(name string, err error, d time.Duration) {
	if m != nil {
		m.commands.WithLabelValues(name, outcome(err)).Observe(d.Seconds())
	}
}

// ObserveQuery records a query handled, by its name and outcome.
func (m *Metrics) ObserveQuery(name string, err error, d time.Duration) {
	if m != nil {
		m.queries.WithLabelValues(name, outcome(err)).Observe(d.Seconds())
	}
}

// ObserveReaction counts an event a reaction handled: ok, retried or dead.
func (m *Metrics) ObserveReaction(consumer, result string) {
	if m != nil {
		m.reactions.WithLabelValues(consumer, result).Inc()
	}
}

// ObservePublish counts events by type, which makes saga outcomes
// (orders confirmed, rejected, cancelled, expired) a query away.
func (m *Metrics) ObservePublish(eventType string) {
	if m != nil {
		m.published.WithLabelValues(eventType).Inc()
	}
}

// ObserveViewWrite counts a view written to its KV bucket.
func (m *Metrics) ObserveViewWrite(bucket string) {
	if m != nil {
		m.viewWrites.WithLabelValues(bucket).Inc()
	}
}

// ObserveCommit counts a projection's bbolt commit and the events it
// applied.
func (m *Metrics) ObserveCommit(service string, events int, flushed bool) {
	if m != nil {
		m.commits.WithLabelValues(service, strconv.FormatBool(flushed)).Inc()
		m.applied.WithLabelValues(service).Add(float64(events))
	}
}

// ObserveSetAside counts an event a projection could not apply.
func (m *Metrics) ObserveSetAside(service string) {
	if m != nil {
		m.setAside.WithLabelValues(service).Inc()
	}
}

// ObserveSnapshot counts a snapshot of a service's local state taken or
// restored (event).
func (m *Metrics) ObserveSnapshot(service, event string) {
	if m != nil {
		m.snapshots.WithLabelValues(service, event).Inc()
	}
}

// ObserveAdmission records how much work is open and how much may be.
func (m *Metrics) ObserveAdmission(name string, open, limit int) {
	if m != nil {
		m.open.WithLabelValues(name).Set(float64(open))
		m.openLimit.WithLabelValues(name).Set(float64(limit))
	}
}

// ObserveRefused counts new work refused because the backlog is too long.
func (m *Metrics) ObserveRefused(name string) {
	if m != nil {
		m.refused.WithLabelValues(name).Inc()
	}
}

// ObserveFollowers records how many clients follow stream now.
func (m *Metrics) ObserveFollowers(stream string, n int) {
	if m != nil {
		m.followers.WithLabelValues(stream).Set(float64(n))
	}
}

// ObserveDropped counts a follower of stream disconnected for falling
// behind.
func (m *Metrics) ObserveDropped(stream string) {
	if m != nil {
		m.dropped.WithLabelValues(stream).Inc()
	}
}

// ObserveConflict counts a write that lost a race and is decided again.
func (m *Metrics) ObserveConflict() {
	if m != nil {
		m.conflicts.Inc()
	}
}

// ObserveHTTP records an HTTP request by route and status.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	if m != nil {
		m.http.WithLabelValues(method, route, http.StatusText(status)).Observe(d.Seconds())
	}
}

// lagCollector reads, at each scrape, how far behind every reaction is.
type lagCollector struct {
	mu        sync.Mutex
	consumers []lagging
	pending   *prometheus.Desc
	inFlight  *prometheus.Desc
	stuck     *prometheus.Desc
}

// lagging is one reaction's consumer as the collector reads it.
type lagging struct {
	name  string
	stuck func() int
	info  func(context.Context) (*jetstream.ConsumerInfo, error)
}

// WatchLag adds a reaction's consumer to what every scrape reports: how
// many messages this process keeps failing on (stuck), and, when the
// server answers (info), how many wait to be delivered and how many are
// delivered and not yet acked. The metrics take functions rather than the
// reaction itself, so that this package needs nothing of the runtime.
func (m *Metrics) WatchLag(consumer string, stuck func() int, info func(context.Context) (*jetstream.ConsumerInfo, error)) {
	if m == nil {
		return
	}
	m.lag.mu.Lock()
	defer m.lag.mu.Unlock()
	m.lag.consumers = append(m.lag.consumers, lagging{name: consumer, stuck: stuck, info: info})
}

// Describe implements prometheus.Collector.
func (l *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.pending
	ch <- l.inFlight
	ch <- l.stuck
}

// Collect implements prometheus.Collector.
func (l *lagCollector) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	consumers := slices.Clone(l.consumers)
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range consumers {
		ch <- prometheus.MustNewConstMetric(l.stuck, prometheus.GaugeValue, float64(c.stuck()), c.name)
		info, err := c.info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(l.pending, prometheus.GaugeValue, float64(info.NumPending), c.name)
		ch <- prometheus.MustNewConstMetric(l.inFlight, prometheus.GaugeValue, float64(info.NumAckPending), c.name)
	}
}
