package datadog_test

import (
	"errors"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting/datadog"
	"linkwatch/checker/schedule"
	"linkwatch/hub"
	"linkwatch/metrics"
)

// sources are figures as serve's parts would keep them.
func sources(sample metrics.Sample) metrics.Sources {
	return metrics.Sources{
		Scheduler: func() schedule.Stats { return schedule.Stats{Targets: 3} },
		Dropped:   func() int64 { return 2 },
		Redirects: func(o hub.RedirectOutcome) int64 {
			return map[hub.RedirectOutcome]int64{hub.RedirectDestination: 5, hub.RedirectFallback: 2, hub.RedirectNotFound: 100}[o]
		},
		Replicas:      func() int { return 1 },
		StorageFaults: func() int64 { return 0 },
		ClicksDropped: func() int64 { return 4 },
		Sampled:       func() metrics.Sample { return sample },
	}
}

// The reporter sends the figures of the sources both exporters read:
// redirects served are the 302s (a 404 is no redirect), open incidents
// leave out regional notes.
func TestReporterReadsTheSharedSources(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, false)
	sample := metrics.Sample{At: time.Now(),
		Open: map[metrics.IncidentClass]int{
			{Kind: linkwatch.KindDestination, Impact: linkwatch.ImpactMajor}: 2,
			{Kind: linkwatch.KindHub, Impact: linkwatch.ImpactCritical}:      1,
			{Kind: linkwatch.KindRegional, Impact: linkwatch.ImpactMinor}:    4,
		},
		Backlog: linkwatch.Backlog{Pending: 6}, BacklogOK: true}
	datadog.NewReporter(m, sources(sample)).Report()
	lines := a.collect(t, hasAll(1, "linkwatch.incidents.open", "linkwatch.outbox.pending", "linkwatch.redirects.served", "linkwatch.results.dropped",
		"linkwatch.clicks.dropped", "linkwatch.storage.up"))
	for name, want := range map[string]string{"linkwatch.incidents.open": "3", "linkwatch.outbox.pending": "6", "linkwatch.redirects.served": "7", "linkwatch.results.dropped": "2",
		"linkwatch.clicks.dropped": "4", "linkwatch.storage.up": "1"} {
		if got := byName(lines, name)[0].value; got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

// A figure storage could not give is not sent, rather than sent stale or
// as a zero that would look like all clear.
func TestReporterSendsNoFigureStorageCouldNotGive(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, false)
	datadog.NewReporter(m, sources(metrics.Sample{At: time.Now(), Storage: errors.New("down")})).Report()
	m.Delivery("marker", linkwatch.DeliverySent) // sent after the report: once it is in, the report is too
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	lines := a.collect(t, hasAll(1, "linkwatch.scheduler.targets", "linkwatch.deliveries"))
	for _, name := range []string{"linkwatch.incidents.open", "linkwatch.outbox.pending"} {
		if got := byName(lines, name); len(got) != 0 {
			t.Errorf("%s sent without a reading: %v", name, got)
		}
	}
}
