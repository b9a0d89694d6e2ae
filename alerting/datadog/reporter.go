package datadog

import (
	"linkwatch"
	"linkwatch/hub"
	"linkwatch/metrics"
)

// Reporter sends the periodic gauges: scheduler lag, targets up, down and
// degraded, open incidents, the outbox backlog, redirects served, results
// and clicks dropped, and whether storage can write. It reads them from metrics.Sources, where the
// Prometheus exporter reads them too.
type Reporter struct {
	metrics *Metrics
	src     metrics.Sources
}

// NewReporter returns the reporter of src's figures to metrics.
func NewReporter(m *Metrics, src metrics.Sources) *Reporter {
	return &Reporter{metrics: m, src: src}
}

// Report sends one round of the gauges. Those kept in storage come from
// the latest sample, and are not sent when it could not read them.
func (r *Reporter) Report() {
	r.metrics.Scheduler(r.src.Scheduler())
	r.metrics.ResultsDropped(r.src.Dropped())
	r.metrics.TargetCounts()
	r.metrics.Redirects(r.src.Redirects(hub.RedirectDestination) + r.src.Redirects(hub.RedirectFallback))
	r.metrics.ClicksDropped(r.src.ClicksDropped())
	s := r.src.Sampled()
	if !s.At.IsZero() {
		r.metrics.StorageUp(s.Storage == nil)
	}
	if s.Open != nil {
		// Regional notes are not counted: a monitor on this gauge would
		// page for them, and they are never a page.
		n := 0
		for class, count := range s.Open {
			if class.Kind != linkwatch.KindRegional {
				n += count
			}
		}
		r.metrics.OpenIncidents(n)
	}
	if s.BacklogOK {
		r.metrics.OutboxPending(s.Backlog.Pending)
	}
}
