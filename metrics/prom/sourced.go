package prom

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"linkwatch/hub"
	"linkwatch/metrics"
)

// sourced collects, at each scrape, the figures metrics.Sources keeps:
// read, not counted again, so Prometheus and DataDog report one number.
type sourced struct {
	src metrics.Sources
	now func() time.Time

	skipped, backedOff, lag, targets        *prometheus.Desc
	replicas, lease                         *prometheus.Desc
	redirects                               *prometheus.Desc
	storageUp, storageFaults, dropped       *prometheus.Desc
	clicksDropped                           *prometheus.Desc
	incidentsOpen, outboxPending, outboxAge *prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

func newSourced(src metrics.Sources, now func() time.Time) *sourced {
	return &sourced{src: src, now: now,
		skipped:   desc("checks_skipped_total", "Checks not started: the previous check of the same target still ran."),
		backedOff: desc("checks_backed_off_total", "Checks not made: their host had asked for a back-off (429 Retry-After)."),
		lag:       desc("scheduler_lag_seconds", "How late checks started, over the recent window: the median, the 99th percentile and the maximum.", "quantile"),
		targets:   desc("replica_targets", "Targets this replica checks: its share of them."),
		replicas:  desc("replicas", "Live replicas, this one included, sharing the checks of its region, as this one last saw them (1 on SQLite)."),
		lease: desc("replica_lease_seconds", "How long a replica's heartbeat keeps it live: silent longer, its share moves to the others "+
			"(0: one process, no lease)."),
		redirects: desc("redirects_total", "Visitors' short-link requests, by outcome: destination, fallback or not_found (the 404 page).", "outcome"),
		storageUp: desc("storage_up", "1 if the database answered a read and committed a write at the last sample, else 0; "+
			"absent before the first."),
		storageFaults: desc("storage_write_faults_total", "Writes the database refused: a full disk, a read-only file, a lock held too long, a lost connection."),
		dropped:       desc("results_dropped_total", "Check results dropped: storage refused their batch twice."),
		clicksDropped: desc("clicks_dropped_total", "Clicks dropped, the oldest first: more were held than the hub keeps while the database is out of reach."),
		incidentsOpen: desc("incidents_open", "Open incidents by kind and impact, regional notes included, as the database has them "+
			"(every replica reports the same: aggregate with max); absent while storage cannot be read.", "kind", "impact"),
		outboxPending: desc("outbox_pending", "Alert deliveries not yet sent, retries included (the database's: aggregate with max)."),
		outboxAge:     desc("outbox_oldest_pending_age_seconds", "How long the oldest delivery not yet sent has waited since its alert was made; 0 when none waits."),
	}
}

// Describe sends every metric's description.
func (c *sourced) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.skipped, c.backedOff, c.lag, c.targets, c.replicas, c.lease, c.redirects,
		c.storageUp, c.storageFaults, c.dropped, c.clicksDropped, c.incidentsOpen, c.outboxPending, c.outboxAge} {
		ch <- d
	}
}

// Collect reads the sources.
func (c *sourced) Collect(ch chan<- prometheus.Metric) {
	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	st := c.src.Scheduler()
	metric(c.skipped, prometheus.CounterValue, float64(st.Skipped))
	metric(c.backedOff, prometheus.CounterValue, float64(st.BackedOff))
	for _, q := range []struct {
		quantile float64
		lag      time.Duration
	}{{0.5, st.LagP50}, {0.99, st.LagP99}, {1, st.LagMax}} {
		metric(c.lag, prometheus.GaugeValue, q.lag.Seconds(), strconv.FormatFloat(q.quantile, 'f', -1, 64))
	}
	metric(c.targets, prometheus.GaugeValue, float64(st.Targets))
	metric(c.replicas, prometheus.GaugeValue, float64(c.src.Replicas()))
	metric(c.lease, prometheus.GaugeValue, c.src.Lease.Seconds())
	for _, o := range hub.RedirectOutcomes {
		metric(c.redirects, prometheus.CounterValue, float64(c.src.Redirects(o)), o.String())
	}
	metric(c.storageFaults, prometheus.CounterValue, float64(c.src.StorageFaults()))
	metric(c.dropped, prometheus.CounterValue, float64(c.src.Dropped()))
	metric(c.clicksDropped, prometheus.CounterValue, float64(c.src.ClicksDropped()))

	s := c.src.Sampled()
	if s.At.IsZero() {
		return // nothing read from storage yet
	}
	up := 1.0
	if s.Storage != nil {
		up = 0
	}
	metric(c.storageUp, prometheus.GaugeValue, up)
	for class, n := range s.Open {
		metric(c.incidentsOpen, prometheus.GaugeValue, float64(n), string(class.Kind), string(class.Impact))
	}
	if s.BacklogOK {
		metric(c.outboxPending, prometheus.GaugeValue, float64(s.Backlog.Pending))
		metric(c.outboxAge, prometheus.GaugeValue, s.OldestPendingAge(c.now()).Seconds())
	}
}
