package datadog

import (
	"context"
	"log/slog"
	"slices"

	"linkwatch"
	"linkwatch/checker/schedule"
	"linkwatch/errlog"
)

// Store is what the reporter reads from storage.
type Store interface {
	OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error)
	OutboxPending(ctx context.Context) (int64, error)
}

// Sources are where the reporter's gauges come from.
type Sources struct {
	Scheduler func() schedule.Stats // the prober's lag and counts
	Store     Store
	Redirects func() int64 // redirects served, in all
	Dropped   func() int64 // results storage refused, in all
	// StorageUp says whether storage can commit a write; ClicksDropped is
	// the clicks dropped, in all, while it could not.
	StorageUp     func() bool
	ClicksDropped func() int64
}

// Reporter sends the periodic gauges: scheduler lag, targets up, down and
// degraded, open incidents, the outbox backlog, redirects served, results
// and clicks dropped, and whether storage can write.
type Reporter struct {
	metrics *Metrics
	src     Sources
	// The reads' failures, logged once a minute at most.
	openFails, pendingFails *errlog.Reporter
}

// NewReporter returns the reporter of src's figures to metrics.
func NewReporter(metrics *Metrics, src Sources, log *slog.Logger) *Reporter {
	return &Reporter{metrics: metrics, src: src,
		openFails:    &errlog.Reporter{Log: log, Msg: "metrics: count open incidents"},
		pendingFails: &errlog.Reporter{Log: log, Msg: "metrics: count pending deliveries"}}
}

// Report sends one round of the gauges.
func (r *Reporter) Report(ctx context.Context) {
	r.metrics.Scheduler(r.src.Scheduler())
	r.metrics.ResultsDropped(r.src.Dropped())
	r.metrics.TargetCounts()
	r.metrics.Redirects(r.src.Redirects())
	r.metrics.StorageUp(r.src.StorageUp())
	r.metrics.ClicksDropped(r.src.ClicksDropped())
	// What is in memory is sent first: the reads below fail, or wait,
	// while the database is out of reach.
	open, err := r.src.Store.OpenIncidents(ctx)
	if err == nil {
		// Regional notes are not counted: a monitor on this gauge would
		// page for them, and they are never a page.
		r.metrics.OpenIncidents(len(slices.DeleteFunc(open, func(inc linkwatch.Incident) bool { return inc.Kind == linkwatch.KindRegional })))
	}
	r.openFails.Report(ctx, err)
	n, err := r.src.Store.OutboxPending(ctx)
	if err == nil {
		r.metrics.OutboxPending(n)
	}
	r.pendingFails.Report(ctx, err)
}
