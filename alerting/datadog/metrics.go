// Package datadog sends linkwatch's metrics to DataDog over DogStatsD:
// checks by status and cause, target counts, scheduler lag, open incidents,
// the outbox backlog, deliveries and redirects.
package datadog

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch"

	"github.com/DataDog/datadog-go/v5/statsd"

	"linkwatch/checker/schedule"
)

// DefaultNamespace prefixes every metric name unless
// Options.Namespace says otherwise.
const DefaultNamespace = "linkwatch."

// Options configures the DogStatsD client.
type Options struct {
	// Addr is host:port of the DogStatsD agent (UDP).
	Addr string
	// Namespace prefixes every metric name; empty means "linkwatch.".
	Namespace string
	// Tags are added to every metric, e.g. "env:prod".
	Tags []string
	// PerTargetTags also sends check.up per target, tagged target:<id>.
	// Off by default: one series per target is high cardinality.
	PerTargetTags bool
	// StaleAfter is how long a target counts in check.targets after its
	// last result (a target removed by a reload stops counting); default
	// 5 minutes.
	StaleAfter time.Duration
	// Now is the clock for StaleAfter; default time.Now.
	Now func() time.Time
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

	mu            sync.Mutex // guards the last totals and the targets below
	lastSkipped   int64
	lastBackedOff int64
	lastRedirect  int64
	lastDropped   int64                  // results dropped, as of the last report
	lastClicks    int64                  // clicks dropped, as of the last report
	targets       map[string]targetState // by target ID: its latest result
	staleAfter    time.Duration
	now           func() time.Time
}

// targetState is a target's latest result, for check.targets.
type targetState struct {
	kind   linkwatch.TargetKind
	status linkwatch.Status
	at     time.Time
}

// New returns a client sending to opts.Addr. Nothing is sent until a
// method is called; UDP needs no agent to be listening.
func New(opts Options) (*Metrics, error) {
	if opts.Addr == "" {
		return nil, fmt.Errorf("metrics: no DogStatsD address")
	}
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	m := &Metrics{perTarget: opts.PerTargetTags, targets: map[string]targetState{}, staleAfter: opts.StaleAfter, now: opts.Now}
	if m.staleAfter <= 0 {
		m.staleAfter = 5 * time.Minute
	}
	if m.now == nil {
		m.now = time.Now
	}
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

// maxTagLen is DataDog's limit on a tag's length; longer ones are cut.
const maxTagLen = 200

// tag returns "key:value" with value reduced to the characters DataDog
// keeps in a tag (lowercase letters, digits, '_', '-', ':', '.', '/'), the
// rest replaced by '_' as the agent would, so a URL with ?&=+ or a ',' or
// '|' that would split the DogStatsD line arrives as one predictable tag.
func tag(key, value string) string {
	if value == "" {
		value = "none"
	}
	var b strings.Builder
	b.WriteString(key)
	b.WriteByte(':')
	for _, r := range strings.ToLower(value) {
		if b.Len() >= maxTagLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-', r == ':', r == '.', r == '/':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Result records one check: its latency (check.latency, ms) and its status
// and cause (check.results), and remembers its status for check.targets.
// With PerTargetTags it also sends check.up (1 or 0) for the target.
func (m *Metrics) Result(r linkwatch.Result) {
	if !m.active() {
		return
	}
	kind := tag("kind", string(r.Kind))
	m.noteError(m.client.Distribution("check.latency", linkwatch.Millis(r.Latency), []string{kind}, 1))
	m.count("check.results", 1, tag("status", string(r.Status)), tag("cause", string(r.Cause)), kind)
	m.mu.Lock()
	m.targets[r.TargetID] = targetState{kind: r.Kind, status: r.Status, at: m.now()}
	m.mu.Unlock()
	if m.perTarget {
		up := 0.0
		if r.Status == linkwatch.StatusUp {
			up = 1
		}
		m.gauge("check.up", up, kind, tag("target", r.TargetID))
	}
}

// targetStatuses are the statuses check.targets counts, each sent even at
// zero so a dashboard never holds a stale count.
var targetStatuses = []linkwatch.Status{linkwatch.StatusUp, linkwatch.StatusDown, linkwatch.StatusDegraded}

// TargetCounts sends check.targets: how many targets of each kind are up,
// down and degraded by their latest result. One gauge per kind and status,
// so values from different targets never interleave in one series.
func (m *Metrics) TargetCounts() {
	if !m.active() {
		return
	}
	counts := map[linkwatch.TargetKind]map[linkwatch.Status]int{}
	m.mu.Lock()
	now := m.now()
	for id, st := range m.targets {
		if now.Sub(st.at) > m.staleAfter {
			delete(m.targets, id)
			continue
		}
		if counts[st.kind] == nil {
			counts[st.kind] = map[linkwatch.Status]int{}
		}
		counts[st.kind][st.status]++
	}
	m.mu.Unlock()
	for kind, byStatus := range counts {
		for _, st := range targetStatuses {
			m.gauge("check.targets", float64(byStatus[st]), tag("kind", string(kind)), tag("status", string(st)))
		}
	}
}

// Scheduler records the scheduler's lag and size, the skipped checks
// since the last call (scheduler.skipped, a count) and the checks not made
// because their host asked for a back-off (scheduler.backed_off, a count).
func (m *Metrics) Scheduler(st schedule.Stats) {
	if !m.active() {
		return
	}
	m.gauge("scheduler.lag.p50", linkwatch.Millis(st.LagP50))
	m.gauge("scheduler.lag.p99", linkwatch.Millis(st.LagP99))
	m.gauge("scheduler.lag.max", linkwatch.Millis(st.LagMax))
	m.gauge("scheduler.targets", float64(st.Targets))
	m.count("scheduler.skipped", m.delta(&m.lastSkipped, st.Skipped))
	m.count("scheduler.backed_off", m.delta(&m.lastBackedOff, st.BackedOff))
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

// Delivery counts one delivery attempt (the dispatcher's Recorder).
func (m *Metrics) Delivery(channel string, outcome linkwatch.DeliveryStatus) {
	if !m.active() {
		return
	}
	m.count("deliveries", 1, tag("channel", channel), tag("result", string(outcome)))
}

// Redirects records the redirects served to visitors since the last call,
// given the running total.
func (m *Metrics) Redirects(total int64) {
	if !m.active() {
		return
	}
	m.count("redirects.served", m.delta(&m.lastRedirect, total))
}

// ResultsDropped records the check results dropped since the last call,
// given the running total (storage refused them twice): results.dropped.
func (m *Metrics) ResultsDropped(total int64) {
	if !m.active() {
		return
	}
	m.count("results.dropped", m.delta(&m.lastDropped, total))
}

// StorageUp records whether storage can commit a write (1) or not (0):
// storage.up, the same verdict as /readyz/storage.
func (m *Metrics) StorageUp(up bool) {
	if !m.active() {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.gauge("storage.up", v)
}

// ClicksDropped records the clicks dropped since the last call, given the
// running total (more were held than the hub keeps while its flushes
// fail): clicks.dropped.
func (m *Metrics) ClicksDropped(total int64) {
	if !m.active() {
		return
	}
	m.count("clicks.dropped", m.delta(&m.lastClicks, total))
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
