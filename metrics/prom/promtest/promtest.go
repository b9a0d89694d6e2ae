// Package promtest reads what /metrics serves the way Prometheus does,
// with the Prometheus text parser, for tests.
package promtest

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Parse parses a scrape in the Prometheus text format, failing the test
// on a malformed one.
func Parse(tb testing.TB, r io.Reader) Families {
	tb.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		tb.Fatalf("parse the metrics: %v", err)
	}
	return fams
}

// Scrape GETs url as Prometheus does (the text format, with the bearer
// token if one is given) and parses what it serves.
func Scrape(tb testing.TB, url, token string) Families {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		tb.Fatalf("scrape %s: %s\n%s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		tb.Fatalf("scrape %s: Content-Type %q, want the text format", url, ct)
	}
	return Parse(tb, resp.Body)
}

// Type returns the family's type, and whether it was scraped.
func (f Families) Type(name string) (dto.MetricType, bool) {
	fam, ok := f[name]
	if !ok {
		return 0, false
	}
	return fam.GetType(), true
}

// Metric returns the family's metric whose labels are exactly labels
// (name, value pairs), or nil.
func (f Families) Metric(name string, labels ...string) *dto.Metric {
	fam, ok := f[name]
	if !ok {
		return nil
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return want[l.GetName()] != l.GetValue() }) {
			return m
		}
	}
	return nil
}

// Value returns the value of the counter or gauge with exactly labels,
// or of a histogram's count of observations; ok is false when no such
// metric was scraped.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	m := f.Metric(name, labels...)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// Labels returns the label names of the family's metrics, sorted, each
// once.
func (f Families) Labels(name string) []string {
	var out []string
	for _, m := range f[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(out, l.GetName()) {
				out = append(out, l.GetName())
			}
		}
	}
	slices.Sort(out)
	return out
}
