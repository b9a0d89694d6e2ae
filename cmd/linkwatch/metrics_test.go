package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"linkwatch/metrics/prom/promtest"
)

// /metrics through serve: Prometheus's text parser reads every family
// with its type and labels, and the values move as the product works: a
// failing destination's checks count under its cause, its incident opens,
// the alert is delivered, a visitor's redirect is counted and timed.
func TestMetricsThroughServe(t *testing.T) {
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/shop" {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer dest.Close()
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks.Add(1)
	}))
	defer hook.Close()
	const token = "metrics-token-0123456789"
	cfg := `
server: {admin_token: "${ADMIN_TOKEN}", rate_limit: {per_second: 1000, burst: 1000}}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 500ms, allow_private: [127.0.0.1/32], failure_threshold: 1}
alerts:
  group_interval: 0s
  webhooks:
    - {name: ops, url: "` + hook.URL + `/hook", secret: "${HOOK_SECRET}"}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "` + dest.URL + `/shop"}
      - {slug: blog, url: "` + dest.URL + `/blog"}
`
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("metrics-secret-0123456789"))
	app := startApp(t, cfg, map[string]string{"ADMIN_TOKEN": token, "HOOK_SECRET": secret})
	url := app.URL + "/metrics"

	// Behind the admin token: none, or another, is refused.
	for _, auth := range []string{"", "Bearer not-the-token-0123456", "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+token))} {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "linkwatch_") {
			t.Errorf("GET /metrics with Authorization %q = %d, want 401 and no metric:\n%.200s", auth, resp.StatusCode, body)
		}
	}

	before := promtest.Scrape(t, url, token)
	value := func(f promtest.Families, name string, labels ...string) float64 {
		v, _ := f.Value(name, labels...)
		return v
	}
	destBefore := value(before, "linkwatch_redirects_total", "outcome", "destination")
	notFoundBefore := value(before, "linkwatch_redirects_total", "outcome", "not_found")
	get(t, "GET", app.URL+"/acme/blog")
	get(t, "GET", app.URL+"/acme/nope")

	down := []string{"kind", "destination", "status", "down", "cause", "http_5xx"}
	var now promtest.Families
	// A poll of a running serve: real time.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		now = promtest.Scrape(t, url, token)
		if value(now, "linkwatch_checks_total", down...) >= 1 &&
			value(now, "linkwatch_incidents_open", "kind", "destination", "impact", "major") == 1 &&
			value(now, "linkwatch_deliveries_total", "channel", "webhook:ops", "state", "sent") >= 1 &&
			value(now, "linkwatch_check_duration_seconds", "kind", "self_check") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics did not move within 20s (webhooks received: %d):\nchecks %v\nincidents %v\ndeliveries %v\nstderr:\n%s",
				hooks.Load(), now["linkwatch_checks_total"].GetMetric(), now["linkwatch_incidents_open"].GetMetric(),
				now["linkwatch_deliveries_total"].GetMetric(), app.stderr)
		}
	}
	for _, fam := range []struct {
		name   string
		typ    dto.MetricType
		labels []string
	}{
		{"linkwatch_checks_total", dto.MetricType_COUNTER, []string{"cause", "kind", "status"}},
		{"linkwatch_check_duration_seconds", dto.MetricType_HISTOGRAM, []string{"kind"}},
		{"linkwatch_redirects_total", dto.MetricType_COUNTER, []string{"outcome"}},
		{"linkwatch_redirect_duration_seconds", dto.MetricType_HISTOGRAM, []string{"outcome"}},
		{"linkwatch_replicas", dto.MetricType_GAUGE, nil},
		{"linkwatch_replica_targets", dto.MetricType_GAUGE, nil},
		{"linkwatch_replica_lease_seconds", dto.MetricType_GAUGE, nil},
		{"linkwatch_storage_write_faults_total", dto.MetricType_COUNTER, nil},
		{"linkwatch_results_dropped_total", dto.MetricType_COUNTER, nil},
		{"linkwatch_incidents_open", dto.MetricType_GAUGE, []string{"impact", "kind"}},
		{"linkwatch_deliveries_total", dto.MetricType_COUNTER, []string{"channel", "state"}},
		{"linkwatch_outbox_pending", dto.MetricType_GAUGE, nil},
		{"linkwatch_outbox_oldest_pending_age_seconds", dto.MetricType_GAUGE, nil},
		{"linkwatch_storage_up", dto.MetricType_GAUGE, nil},
	} {
		if typ, ok := now.Type(fam.name); !ok || typ != fam.typ {
			t.Errorf("%s: scraped %t as %s, want a %s", fam.name, ok, typ, fam.typ)
		}
		if got := now.Labels(fam.name); !slices.Equal(got, fam.labels) {
			t.Errorf("%s has labels %v, want %v", fam.name, got, fam.labels)
		}
	}
	if v := value(before, "linkwatch_checks_total", down...); v != 0 && v >= value(now, "linkwatch_checks_total", down...) {
		t.Errorf("checks of the failing destination did not move from %v", v)
	}
	if got := value(now, "linkwatch_checks_total", "kind", "destination", "status", "up", "cause", "none"); got < 1 {
		t.Errorf("checks of the healthy destination = %v, want some", got)
	}
	if got := value(now, "linkwatch_check_duration_seconds", "kind", "destination"); got < 2 {
		t.Errorf("%v destination checks timed, want both destinations'", got)
	}
	// The prober's self-checks are not visitors: the redirects counted
	// are this test's two.
	if got := value(now, "linkwatch_redirects_total", "outcome", "destination") - destBefore; got != 1 {
		t.Errorf("redirects to a destination moved by %v, want the one visitor's", got)
	}
	if got := value(now, "linkwatch_redirects_total", "outcome", "not_found") - notFoundBefore; got != 1 {
		t.Errorf("short links not found moved by %v, want the one visitor's", got)
	}
	if got := value(now, "linkwatch_redirect_duration_seconds", "outcome", "destination"); got < 1 {
		t.Errorf("%v redirects timed, want the visitor's", got)
	}
	for name, want := range map[string]float64{
		"linkwatch_storage_up": 1, "linkwatch_replicas": 1, "linkwatch_replica_lease_seconds": 0,
		"linkwatch_replica_targets":            4, // two destinations and their two self-checks
		"linkwatch_storage_write_faults_total": 0, "linkwatch_results_dropped_total": 0,
	} {
		if got, ok := now.Value(name); !ok || got != want {
			t.Errorf("%s = %v (scraped: %t), want %v", name, got, ok, want)
		}
	}
}

// Without an admin token /metrics is off, and says what turns it on;
// its path is the route table's, never a page's.
func TestMetricsOffWithoutAdminToken(t *testing.T) {
	app := startApp(t, "storage: {path: DBPATH}\n"+`
pages:
  - slug: ada
    links:
      - {slug: go, url: "https://127.0.0.1:9/go/"}
`, nil)
	resp, body := get(t, "GET", app.URL+"/metrics")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "server.admin_token") || strings.Contains(body, "linkwatch_") {
		t.Errorf("GET /metrics without a token = %d:\n%.300s\nwant 404 naming server.admin_token", resp.StatusCode, body)
	}
}
