package config

import (
	"reflect"
	"testing"
	"time"

	"linkwatch"
)

// fresh_every: 0 is a value (every check fresh), not "unset": it reaches
// the checker as 0, which is every check fresh there too.
func TestFreshEveryAndTLSWarn(t *testing.T) {
	tests := []struct {
		probe string
		fresh time.Duration
		warn  time.Duration
	}{
		{"", time.Minute, 14 * 24 * time.Hour},
		{"probe: {fresh_every: 0s, tls_warn: 720h}\n", 0, 30 * 24 * time.Hour},
		{"probe: {fresh_every: 0}\n", 0, 14 * 24 * time.Hour},
		{"probe: {fresh_every: 5m}\n", 5 * time.Minute, 14 * 24 * time.Hour},
	}
	for _, tt := range tests {
		cfg, err := Parse(t.Context(), []byte(tt.probe+validPages), "t.yaml", func(string) string { return "" })
		if err != nil {
			t.Fatalf("%q: %v", tt.probe, err)
		}
		if got := time.Duration(*cfg.Probe.FreshEvery); got != tt.fresh {
			t.Errorf("%q: fresh_every = %v, want %v", tt.probe, got, tt.fresh)
		}
		if got := time.Duration(*cfg.Probe.TLSWarn); got != tt.warn {
			t.Errorf("%q: tls_warn = %v, want %v", tt.probe, got, tt.warn)
		}
	}
}

// alerts.group_interval: 0 is a value (no grouping), passed on as 0.
func TestGroupIntervalZeroIsAValue(t *testing.T) {
	for yaml, want := range map[string]time.Duration{"": 30 * time.Second, "alerts: {group_interval: 0s}\n": 0, "alerts: {group_interval: 2m}\n": 2 * time.Minute} {
		cfg, err := Parse(t.Context(), []byte(yaml+validPages), "t.yaml", func(string) string { return "" })
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		if got := time.Duration(*cfg.Alerts.GroupInterval); got != want {
			t.Errorf("%q: group_interval = %v, want %v", yaml, got, want)
		}
	}
}

// alerts.database_outage_after defaults to 30s and is passed on as set.
func TestDatabaseOutageAfter(t *testing.T) {
	for yaml, want := range map[string]time.Duration{"": 30 * time.Second, "alerts: {database_outage_after: 2s}\n": 2 * time.Second} {
		cfg, err := Parse(t.Context(), []byte(yaml+validPages), "t.yaml", func(string) string { return "" })
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		if got := time.Duration(*cfg.Alerts.DatabaseOutageAfter); got != want {
			t.Errorf("%q: database_outage_after = %v, want %v", yaml, got, want)
		}
	}
}

// A link's expectations reach the catalog, and so its target.
func TestCatalogSpecCarriesExpectations(t *testing.T) {
	cfg, err := Parse(t.Context(), []byte(`
pages:
  - slug: acme
    links:
      - {slug: shop, url: 'https://shop.example/', expect: {status: [200, 204], body_contains: 'Add to cart', final_host: shop.example}}
      - {slug: blog, url: 'https://blog.example/'}
`), "t.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	links := cfg.CatalogSpec()[0].Links
	want := linkwatch.Expect{Status: []int{200, 204}, BodyContains: "Add to cart", FinalHost: "shop.example"}
	if !reflect.DeepEqual(links[0].Expect, want) || !reflect.DeepEqual(links[1].Expect, linkwatch.Expect{}) {
		t.Errorf("expectations = %+v, %+v; want %+v and none", links[0].Expect, links[1].Expect, want)
	}
}
