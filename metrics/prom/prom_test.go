package prom_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"linkwatch"
	"linkwatch/checker/schedule"
	"linkwatch/hub"
	"linkwatch/metrics"
	"linkwatch/metrics/prom"
	"linkwatch/metrics/prom/promtest"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// figures are the sources' values, which a test changes between scrapes.
type figures struct {
	stats     schedule.Stats
	dropped   int64
	redirects map[hub.RedirectOutcome]int64
	replicas  int
	faults    int64
	clicks    int64
	sample    metrics.Sample
}

func (f *figures) sources() metrics.Sources {
	return metrics.Sources{
		Scheduler:     func() schedule.Stats { return f.stats },
		Dropped:       func() int64 { return f.dropped },
		Redirects:     func(o hub.RedirectOutcome) int64 { return f.redirects[o] },
		Replicas:      func() int { return f.replicas },
		Lease:         30 * time.Second,
		StorageFaults: func() int64 { return f.faults },
		ClicksDropped: func() int64 { return f.clicks },
		Sampled:       func() metrics.Sample { return f.sample },
	}
}

func scrape(t *testing.T, e *prom.Exporter) promtest.Families {
	t.Helper()
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return promtest.Scrape(t, srv.URL, "")
}

func value(t *testing.T, fams promtest.Families, name string, labels ...string) float64 {
	t.Helper()
	v, ok := fams.Value(name, labels...)
	if !ok {
		t.Fatalf("%s%v not scraped; %s has %v", name, labels, name, fams[name].GetMetric())
	}
	return v
}

// populated is an exporter of figures every family has values of, told
// of every kind of event.
func populated(t *testing.T) promtest.Families {
	t.Helper()
	f := &figures{
		stats:     schedule.Stats{Targets: 12, Skipped: 3, BackedOff: 1, LagP50: time.Millisecond, LagP99: 20 * time.Millisecond, LagMax: time.Second},
		dropped:   5,
		redirects: map[hub.RedirectOutcome]int64{hub.RedirectDestination: 40, hub.RedirectFallback: 2, hub.RedirectNotFound: 7},
		replicas:  3, faults: 4,
		sample: metrics.Sample{At: now,
			Open:    map[metrics.IncidentClass]int{{Kind: linkwatch.KindHost, Impact: linkwatch.ImpactMajor}: 2, {Kind: linkwatch.KindHub, Impact: linkwatch.ImpactCritical}: 0},
			Backlog: linkwatch.Backlog{Pending: 6, Oldest: now.Add(-90 * time.Second)}, BacklogOK: true},
	}
	e := prom.New(f.sources(), prom.Options{Now: func() time.Time { return now }})
	e.Result(linkwatch.Result{Kind: linkwatch.TargetDestination, Status: linkwatch.StatusDown, Cause: linkwatch.CauseDNS, Latency: 30 * time.Millisecond})
	e.Result(linkwatch.Result{Kind: linkwatch.TargetDestination, Status: linkwatch.StatusUp, Latency: 200 * time.Millisecond})
	e.Result(linkwatch.Result{Kind: linkwatch.TargetSelfCheck, Status: linkwatch.StatusUp, Latency: 2 * time.Millisecond})
	e.Delivery("slack", linkwatch.DeliverySent)
	e.Delivery("webhook:ops", linkwatch.DeliveryPending)
	e.Delivery(linkwatch.SubscriptionChannel(12), linkwatch.DeliverySent)
	e.Delivery(linkwatch.SubscriptionChannel(13), linkwatch.DeliverySent)
	e.ObserveRedirect(hub.RedirectDestination, 3*time.Microsecond)
	e.ObserveRedirect(hub.RedirectNotFound, 40*time.Microsecond)

	return scrape(t, e)
}

// Every family is served with its type and labels, and each value is
// the sources' or the events' own.
func TestExporterFamilies(t *testing.T) {
	fams := populated(t)
	families := []struct {
		name   string
		typ    dto.MetricType
		labels []string
	}{
		{"linkwatch_checks_total", dto.MetricType_COUNTER, []string{"cause", "kind", "status"}},
		{"linkwatch_check_duration_seconds", dto.MetricType_HISTOGRAM, []string{"kind"}},
		{"linkwatch_checks_skipped_total", dto.MetricType_COUNTER, nil},
		{"linkwatch_checks_backed_off_total", dto.MetricType_COUNTER, nil},
		{"linkwatch_scheduler_lag_seconds", dto.MetricType_GAUGE, []string{"quantile"}},
		{"linkwatch_replica_targets", dto.MetricType_GAUGE, nil},
		{"linkwatch_replicas", dto.MetricType_GAUGE, nil},
		{"linkwatch_replica_lease_seconds", dto.MetricType_GAUGE, nil},
		{"linkwatch_incidents_open", dto.MetricType_GAUGE, []string{"impact", "kind"}},
		{"linkwatch_deliveries_total", dto.MetricType_COUNTER, []string{"channel", "state"}},
		{"linkwatch_outbox_pending", dto.MetricType_GAUGE, nil},
		{"linkwatch_outbox_oldest_pending_age_seconds", dto.MetricType_GAUGE, nil},
		{"linkwatch_storage_up", dto.MetricType_GAUGE, nil},
		{"linkwatch_storage_write_faults_total", dto.MetricType_COUNTER, nil},
		{"linkwatch_results_dropped_total", dto.MetricType_COUNTER, nil},
		{"linkwatch_redirects_total", dto.MetricType_COUNTER, []string{"outcome"}},
		{"linkwatch_redirect_duration_seconds", dto.MetricType_HISTOGRAM, []string{"outcome"}},
		{"go_goroutines", dto.MetricType_GAUGE, nil},
		{"process_start_time_seconds", dto.MetricType_GAUGE, nil},
	}
	for _, fam := range families {
		typ, ok := fams.Type(fam.name)
		if !ok {
			t.Errorf("%s not scraped", fam.name)
			continue
		}
		if typ != fam.typ {
			t.Errorf("%s is a %s, want a %s", fam.name, typ, fam.typ)
		}
		if got := fams.Labels(fam.name); !slices.Equal(got, fam.labels) {
			t.Errorf("%s has labels %v, want %v", fam.name, got, fam.labels)
		}
	}
	for _, v := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"linkwatch_checks_total", []string{"kind", "destination", "status", "down", "cause", "dns"}, 1},
		{"linkwatch_checks_total", []string{"kind", "destination", "status", "up", "cause", "none"}, 1},
		{"linkwatch_checks_total", []string{"kind", "self_check", "status", "up", "cause", "none"}, 1},
		{"linkwatch_check_duration_seconds", []string{"kind", "destination"}, 2},
		{"linkwatch_check_duration_seconds", []string{"kind", "self_check"}, 1},
		{"linkwatch_checks_skipped_total", nil, 3},
		{"linkwatch_checks_backed_off_total", nil, 1},
		{"linkwatch_scheduler_lag_seconds", []string{"quantile", "0.99"}, 0.02},
		{"linkwatch_scheduler_lag_seconds", []string{"quantile", "1"}, 1},
		{"linkwatch_replica_targets", nil, 12},
		{"linkwatch_replicas", nil, 3},
		{"linkwatch_replica_lease_seconds", nil, 30},
		{"linkwatch_incidents_open", []string{"kind", "host", "impact", "major"}, 2},
		{"linkwatch_incidents_open", []string{"kind", "hub", "impact", "critical"}, 0},
		{"linkwatch_deliveries_total", []string{"channel", "slack", "state", "sent"}, 1},
		{"linkwatch_deliveries_total", []string{"channel", "webhook:ops", "state", "pending"}, 1},
		{"linkwatch_deliveries_total", []string{"channel", "subscriptions", "state", "sent"}, 2},
		{"linkwatch_outbox_pending", nil, 6},
		{"linkwatch_outbox_oldest_pending_age_seconds", nil, 90},
		{"linkwatch_storage_up", nil, 1},
		{"linkwatch_storage_write_faults_total", nil, 4},
		{"linkwatch_results_dropped_total", nil, 5},
		{"linkwatch_redirects_total", []string{"outcome", "destination"}, 40},
		{"linkwatch_redirects_total", []string{"outcome", "fallback"}, 2},
		{"linkwatch_redirects_total", []string{"outcome", "not_found"}, 7},
		{"linkwatch_redirect_duration_seconds", []string{"outcome", "destination"}, 1},
		{"linkwatch_redirect_duration_seconds", []string{"outcome", "fallback"}, 0},
		{"linkwatch_redirect_duration_seconds", []string{"outcome", "not_found"}, 1},
	} {
		if got := value(t, fams, v.name, v.labels...); got != v.want {
			t.Errorf("%s%v = %v, want %v", v.name, v.labels, got, v.want)
		}
	}
	// The redirect's 3 µs falls in the 5 µs bucket, not the 2.5 µs one:
	// the buckets resolve a redirect's time.
	h := fams.Metric("linkwatch_redirect_duration_seconds", "outcome", "destination").GetHistogram()
	for _, b := range h.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 5e-6 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%g holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// No label carries a subscription's id, a URL or a host.
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.HasPrefix(l.GetValue(), linkwatch.SubscriptionChannelPrefix) || strings.Contains(l.GetValue(), "/") {
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// What storage has not given is not served: before the first sample
// nothing of it, and while it cannot be read not the figures it holds,
// but storage_up at 0.
func TestExporterWithoutStorageFigures(t *testing.T) {
	f := &figures{redirects: map[hub.RedirectOutcome]int64{}, replicas: 1}
	e := prom.New(f.sources(), prom.Options{})
	fams := scrape(t, e)
	for _, name := range []string{"linkwatch_storage_up", "linkwatch_incidents_open", "linkwatch_outbox_pending", "linkwatch_outbox_oldest_pending_age_seconds"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s served before the first sample", name)
		}
	}
	f.sample = metrics.Sample{At: now, Storage: errors.New("connection refused")}
	fams = scrape(t, e)
	if got := value(t, fams, "linkwatch_storage_up"); got != 0 {
		t.Errorf("storage_up = %v with storage down, want 0", got)
	}
	for _, name := range []string{"linkwatch_incidents_open", "linkwatch_outbox_pending", "linkwatch_outbox_oldest_pending_age_seconds"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s served although storage could not be read", name)
		}
	}
	// The events' families are there from the start, every redirect
	// outcome at 0.
	if got := value(t, fams, "linkwatch_redirects_total", "outcome", "fallback"); got != 0 {
		t.Errorf("redirects_total{outcome=fallback} = %v, want 0", got)
	}
}

// A scraper that asks for OpenMetrics gets it.
func TestExporterServesOpenMetrics(t *testing.T) {
	f := &figures{redirects: map[hub.RedirectOutcome]int64{}, replicas: 1}
	srv := httptest.NewServer(prom.New(f.sources(), prom.Options{}).Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type = %q, want OpenMetrics", ct)
	}
	if !strings.HasSuffix(string(body), "# EOF\n") || !strings.Contains(string(body), "# TYPE linkwatch_redirects counter") {
		t.Errorf("not OpenMetrics:\n%s", body)
	}
}

// Timing a redirect allocates nothing: it is on the redirect path.
func TestObserveRedirectAllocatesNothing(t *testing.T) {
	f := &figures{redirects: map[hub.RedirectOutcome]int64{}, replicas: 1}
	e := prom.New(f.sources(), prom.Options{})
	if n := testing.AllocsPerRun(1000, func() { e.ObserveRedirect(hub.RedirectFallback, 4*time.Microsecond) }); n != 0 {
		t.Errorf("ObserveRedirect allocates %v times, want 0", n)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/families.txt")

// testdata/families.txt lists every family linkwatch serves, with its
// type and labels: the README's table, and what deploy's test checks the
// Grafana dashboard's queries against. A metric added, renamed or
// relabelled here changes it.
func TestExportedFamilies(t *testing.T) {
	fams := populated(t)
	var b strings.Builder
	b.WriteString("# The families linkwatch serves at /metrics: name, type, labels (- for none).\n" +
		"# Written by `go test ./metrics/prom -run TestExportedFamilies -update`;\n" +
		"# deploy's dashboard test checks every query of deploy/grafana/linkwatch.json\n" +
		"# against it.\n")
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		if !strings.HasPrefix(name, prom.Namespace+"_") {
			continue // the Go runtime's and the process's, which vary by platform
		}
		labels := strings.Join(fams.Labels(name), ",")
		if labels == "" {
			labels = "-"
		}
		fmt.Fprintf(&b, "%s %s %s\n", name, strings.ToLower(fams[name].GetType().String()), labels)
	}
	golden := filepath.Join("testdata", "families.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("the families served are not %s's (run with -update if the change is meant):\n%s", golden, b.String())
	}
}
