package alerting

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"linkwatch/checker"
)

// DefaultMetricsNamespace prefixes every metric name unless
// MetricsOptions.Namespace says otherwise.
const DefaultMetricsNamespace = "linkwatch."

// MetricsOptions configures the DogStatsD client.
type MetricsOptions struct {
	// Addr is host:port of the DogStatsD agent (UDP).
	Addr string
	// Namespace prefixes every metric name; empty means "linkwatch.".
	Namespace string
	// Tags are added to every metric, e.g. "env:prod".
	Tags []string
	// PerTargetTags adds a target:<id> tag to check.up. Off by default:
	// one series per target is high cardinality.
	PerTargetTags bool
}

// Metrics sends linkwatch's metrics to DataDog over DogStatsD. Every method
// is safe for concurrent use and never waits on the network: the client
// buffers and a background sender writes UDP datagrams. A nil *Metrics is a
// valid no-op, so callers need no checks.
type Metrics struct {
	client    *statsd.Client
	perTarget bool
	closed    atomic.Bool
	errs      atomic.Int64
	logOnce   sync.Once

	mu           sync.Mutex // guards the last totals below
	lastSkipped  int64
	lastRedirect int64
}

var _ Recorder = (*Metrics)(nil)

// NewMetrics returns a client sending to opts.Addr. Nothing is sent until a
// method is called; UDP needs no agent to be listening.
func NewMetrics(opts MetricsOptions) (*Metrics, error) {
	if opts.Addr == "" {
		return nil, fmt.Errorf("metrics: no DogStatsD address")
	}
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultMetricsNamespace
	}
	m := &Metrics{perTarget: opts.PerTargetTags}
	c, err := statsd.New(opts.Addr,
		statsd.WithNamespace(ns),
		statsd.WithTags(append([]string(nil), opts.Tags...)),
		// Every call becomes its own line: counts and gauges are not
		// summed or overwritten client-side for 2 s, so a delta sent by
		// Scheduler or Redirects arrives as sent.
		statsd.WithoutClientSideAggregation(),
		// Buffered lines are written at least this often.
		statsd.WithBufferFlushInterval(100*time.Millisecond),
		statsd.WithErrorHandler(m.noteError),
	)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	m.client = c
	return m, nil
}

// Close flushes buffered metrics and closes the connection. Later calls to
// the other methods do nothing.
func (m *Metrics) Close() error {
	if m == nil || m.closed.Swap(true) {
		return nil
	}
	return m.client.Close()
}

// Errors is how many statsd errors (dropped or unwritten payloads) there
// have been; only the first is logged.
func (m *Metrics) Errors() int64 {
	if m == nil {
		return 0
	}
	return m.errs.Load()
}

func (m *Metrics) noteError(err error) {
	if err == nil {
		return
	}
	m.errs.Add(1)
	m.logOnce.Do(func() {
		slog.Default().Warn("metrics: statsd error; later ones are counted, not logged", "err", err)
	})
}

func (m *Metrics) active() bool { return m != nil && m.client != nil && !m.closed.Load() }

func (m *Metrics) gauge(name string, v float64, tags ...string) {
	m.noteError(m.client.Gauge(name, v, tags, 1))
}

func (m *Metrics) count(name string, v int64, tags ...string) {
	m.noteError(m.client.Count(name, v, tags, 1))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tagValue keeps a value from breaking the DogStatsD line: ',' separates
// tags and '|' fields (the client itself only strips newlines).
func tagValue(s string) string {
	if s == "" {
		return "none"
	}
	return tagEscaper.Replace(s)
}

var tagEscaper = strings.NewReplacer(",", "_", "|", "_", "\n", "_", "\r", "_")

// Result records one check: its latency (check.latency, ms), whether it was
// up (check.up, 1 or 0) and its status and cause (check.results).
func (m *Metrics) Result(r checker.Result) {
	if !m.active() {
		return
	}
	kind := "kind:" + tagValue(string(r.Kind))
	m.noteError(m.client.Distribution("check.latency", ms(r.Latency), []string{kind}, 1))
	up := 0.0
	if r.Status == checker.StatusUp {
		up = 1
	}
	if m.perTarget {
		m.gauge("check.up", up, kind, "target:"+tagValue(r.TargetID))
	} else {
		m.gauge("check.up", up, kind)
	}
	m.count("check.results", 1, "status:"+tagValue(string(r.Status)), "cause:"+tagValue(string(r.Cause)), kind)
}

// Scheduler records the scheduler's lag and size, and the skipped checks
// since the last call (scheduler.skipped, a count).
func (m *Metrics) Scheduler(st checker.Stats) {
	if !m.active() {
		return
	}
	m.gauge("scheduler.lag.p50", ms(st.LagP50))
	m.gauge("scheduler.lag.p99", ms(st.LagP99))
	m.gauge("scheduler.lag.max", ms(st.LagMax))
	m.gauge("scheduler.targets", float64(st.Targets))
	m.count("scheduler.skipped", m.delta(&m.lastSkipped, st.Skipped))
}

// OpenIncidents records the number of open incidents.
func (m *Metrics) OpenIncidents(n int) {
	if !m.active() {
		return
	}
	m.gauge("incidents.open", float64(n))
}

// OutboxPending records the number of alerts not yet delivered.
func (m *Metrics) OutboxPending(n int64) {
	if !m.active() {
		return
	}
	m.gauge("outbox.pending", float64(n))
}

// Delivery counts one delivery attempt; it implements Recorder.
func (m *Metrics) Delivery(channel, outcome string) {
	if !m.active() {
		return
	}
	m.count("deliveries", 1, "channel:"+tagValue(channel), "result:"+tagValue(outcome))
}

// Redirects records the redirects served since the last call, given the
// running total.
func (m *Metrics) Redirects(total int64) {
	if !m.active() {
		return
	}
	m.count("redirects.served", m.delta(&m.lastRedirect, total))
}

// delta returns total minus the previous total and remembers total. A total
// lower than the last one means the counter restarted: all of it is new.
func (m *Metrics) delta(last *int64, total int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := total - *last
	if d < 0 {
		d = total
	}
	*last = total
	return d
}
