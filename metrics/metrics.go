// Package metrics holds the figures linkwatch reports and where each one
// comes from, once, for every exporter: the events told to a Recorder (a
// check's result, a delivery attempt), the figures kept in memory that an
// exporter reads when it reports (Sources), and those read from storage,
// which a Sampler reads every so often for all of them. alerting/datadog
// sends them to DataDog; metrics/prom serves them to Prometheus.
package metrics

import (
	"time"

	"linkwatch"
	"linkwatch/checker/schedule"
	"linkwatch/hub"
)

// Recorder is told of every event a metric counts. Each exporter is one;
// Recorders tells them all.
type Recorder interface {
	// Result is one check's result.
	Result(r linkwatch.Result)
	// Delivery is one delivery attempt's outcome on a channel (the
	// alerting dispatcher's Recorder).
	Delivery(channel string, status linkwatch.DeliveryStatus)
}

// Recorders tells each of its recorders of every event.
type Recorders []Recorder

// Result tells every recorder of r.
func (rs Recorders) Result(r linkwatch.Result) {
	for _, rec := range rs {
		rec.Result(r)
	}
}

// Delivery tells every recorder of a delivery attempt's outcome.
func (rs Recorders) Delivery(channel string, status linkwatch.DeliveryStatus) {
	for _, rec := range rs {
		rec.Delivery(channel, status)
	}
}

// Sources are where the figures an exporter reads when it reports come
// from: kept in memory by the parts that make them, and the Sampler's
// latest sample of those in storage. Every exporter reads the same.
type Sources struct {
	// Scheduler is the prober's counts and lag; its Targets are the
	// targets this replica checks (its share of them).
	Scheduler func() schedule.Stats
	// Dropped is how many check results storage refused (twice), in all.
	Dropped func() int64
	// Redirects is how many visitors' short-link requests had the
	// outcome, in all.
	Redirects func(hub.RedirectOutcome) int64
	// Replicas is how many live replicas, this one included, share the
	// checks of its region, as it last saw them: 1 on SQLite.
	Replicas func() int
	// Lease is how long a replica's heartbeat keeps it live: a replica
	// silent for longer loses its share to the others. 0: one process,
	// no lease.
	Lease time.Duration
	// StorageFaults is how many writes the database refused (a full disk,
	// a read-only file, a lock held too long, a lost connection), in all.
	StorageFaults func() int64
	// ClicksDropped is how many clicks the hub dropped, in all, because
	// more were held than it keeps while the database is out of reach.
	ClicksDropped func() int64
	// Sampled is the Sampler's latest sample.
	Sampled func() Sample
}
