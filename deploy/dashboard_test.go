package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// dashboardFile is the Grafana dashboard of linkwatch's metrics.
const dashboardFile = "grafana/linkwatch.json"

// TestDashboard: every query of the Grafana dashboard parses as PromQL
// and names only series and labels linkwatch serves, as its exporter's
// own test lists them; the families an operator needs each have a panel.
func TestDashboard(t *testing.T) {
	fams, err := loadFamilies(familiesFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) < 10 {
		t.Fatalf("%s lists %d families: not linkwatch's", familiesFile, len(fams))
	}
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dashboardProblems(raw, fams) {
		t.Error(p)
	}
}

// TestDashboardChecksCatch: each mistake below, made in a copy of the
// dashboard, is reported, naming the panel and what is wrong.
func TestDashboardChecksCatch(t *testing.T) {
	fams, err := loadFamilies(familiesFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []mistake{
		{"metric misspelt", dashboardFile, `rate(linkwatch_checks_total{`, `rate(linkwatch_check_total{`,
			`panel "Checks by cause" query A: linkwatch_check_total is not a series linkwatch serves`},
		{"a family's name for a histogram's series", dashboardFile, `rate(linkwatch_redirect_duration_seconds_bucket{job=~\"$job\", outcome=\"not_found\"}`, `rate(linkwatch_redirect_duration_seconds{job=~\"$job\", outcome=\"not_found\"}`,
			`panel "Redirect time, p99" query B: linkwatch_redirect_duration_seconds is not a series`},
		{"not PromQL", dashboardFile, `sum by (cause) (rate(`, `sum by (cause) rate((`, `panel "Checks by cause" query A: parse`},
		{"grouped by a label it lacks", dashboardFile, `sum by (cause) (rate(`, `sum by (host) (rate(`,
			`panel "Checks by cause" query A: sum groups by host, which no series under it has`},
		{"matched on a label it lacks", dashboardFile, `outcome!=\"not_found\"`, `result!=\"not_found\"`,
			`panel "Redirect time, p99" query A: linkwatch_redirect_duration_seconds_bucket has no label result`},
		{"quantile without le", dashboardFile, `sum by (le, kind) (rate(linkwatch_check_duration_seconds_bucket{job=~\"$job\"}[$__rate_interval])))",
          "legendFormat": "{{kind}} p95"`, `sum by (kind) (rate(linkwatch_check_duration_seconds_bucket{job=~\"$job\"}[$__rate_interval])))",
          "legendFormat": "{{kind}} p95"`, `panel "Check time, p50 and p95" query B: histogram_quantile over sum that does not keep le`},
		{"quantile of a counter", dashboardFile, `histogram_quantile(0.99, sum by (le) (rate(linkwatch_redirect_duration_seconds_bucket{job=~\"$job\", outcome!=`,
			`histogram_quantile(0.99, sum by (le) (rate(linkwatch_redirects_total{job=~\"$job\", outcome!=`, `histogram_quantile of linkwatch_redirects_total`},
		{"a data source of its own", dashboardFile, `"uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 1,`, `"uid": "P1809F7CD0C75ACF3"
      },
      "gridPos": {
        "x": 0,
        "y": 1,`, `panel "Redirects by outcome": data source &{prometheus P1809F7CD0C75ACF3}`},
		{"storage not shown", dashboardFile, `min by (instance) (linkwatch_storage_up{`, `min by (instance) (linkwatch_replicas{`, `no panel shows linkwatch_storage_up`},
		{"off the grid", dashboardFile, `"x": 16,
        "y": 27,`, `"x": 20,
        "y": 27,`, `panel "Outbox: oldest delivery waiting": gridPos`},
		{"variable of another series", dashboardFile, `"query": "label_values(linkwatch_replicas, job)"`, `"query": "label_values(linkwatch_replica, job)"`,
			`variable job: linkwatch_replica is not a series`},
		{"not JSON", dashboardFile, `"schemaVersion": 39,`, `"schemaVersion": 39,,`, `decode the dashboard`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := strings.Count(string(raw), tc.old); n != 1 {
				t.Fatalf("%s holds %q %d times; the mistake must be made exactly once", tc.file, tc.old, n)
			}
			got := dashboardProblems([]byte(strings.Replace(string(raw), tc.old, tc.new, 1)), fams)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("want a problem containing %q, got %q", tc.want, got)
			}
		})
	}
}
