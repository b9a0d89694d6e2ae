package main

import (
	"reflect"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/checker"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
)

// validPages is the smallest valid pages section, for tests about the
// other sections.
const validPages = `
pages:
  - slug: ada
    links:
      - slug: go
        url: https://go.dev/
`

// A fallback is a target like any destination, checked once however many
// links use it, and the links depend on it as they do on their own URL.
func TestFallbackTargetsAndDependencies(t *testing.T) {
	cfg, err := config.Parse(t.Context(), []byte(`
probe: {self_check: false}
pages:
  - slug: acme
    links:
      - {slug: shop, url: 'https://shop.example/', fallback: 'https://backup.example/'}
      - {slug: blog, url: 'https://backup.example/', expect: {status: [200]}}
      - {slug: docs, url: 'https://docs.example/', fallback: 'https://backup.example/'}
`), "t.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cat, err := hub.NewCatalog(cfg.CatalogSpec(), hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tg := range destinationTargets(cfg, cat) {
		ids = append(ids, tg.ID)
		if tg.Kind != linkwatch.TargetDestination {
			t.Errorf("%s: kind %s", tg.ID, tg.Kind)
		}
		if tg.ID == "https://backup.example/" && !reflect.DeepEqual(tg.Expect.Status, []int{200}) {
			t.Errorf("the fallback that is also blog's url lost blog's expectations: %+v", tg.Expect)
		}
	}
	if want := []string{"https://backup.example/", "https://docs.example/", "https://shop.example/"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("targets = %v, want %v", ids, want)
	}
	deps := dependencies(cat)
	shop := linkwatch.Affected{Page: "acme", Link: "shop", URL: "https://shop.example/", Fallback: "https://backup.example/"}
	docs := linkwatch.Affected{Page: "acme", Link: "docs", URL: "https://docs.example/", Fallback: "https://backup.example/"}
	blog := linkwatch.Affected{Page: "acme", Link: "blog", URL: "https://backup.example/"}
	if got := deps["https://backup.example/"]; !reflect.DeepEqual(got, []linkwatch.Affected{shop, blog, docs}) {
		t.Errorf("deps of the fallback = %+v", got)
	}
	if got := deps["https://shop.example/"]; !reflect.DeepEqual(got, []linkwatch.Affected{shop}) {
		t.Errorf("deps of shop = %+v", got)
	}
}

// fresh_every: 0 is a value (every check fresh), not "unset".
func TestFreshEveryAndTLSWarn(t *testing.T) {
	tests := []struct {
		probe            string
		fresh, checkerFE time.Duration
		warn             time.Duration
	}{
		{"", time.Minute, time.Minute, 14 * 24 * time.Hour},
		{"probe: {fresh_every: 0s, tls_warn: 720h}\n", 0, checker.FreshAlways, 30 * 24 * time.Hour},
		{"probe: {fresh_every: 0}\n", 0, checker.FreshAlways, 14 * 24 * time.Hour},
		{"probe: {fresh_every: 5m}\n", 5 * time.Minute, 5 * time.Minute, 14 * 24 * time.Hour},
	}
	for _, tt := range tests {
		cfg, err := config.Parse(t.Context(), []byte(tt.probe+validPages), "t.yaml", func(string) string { return "" })
		if err != nil {
			t.Fatalf("%q: %v", tt.probe, err)
		}
		if got := time.Duration(*cfg.Probe.FreshEvery); got != tt.fresh {
			t.Errorf("%q: fresh_every = %v, want %v", tt.probe, got, tt.fresh)
		}
		if got := freshEvery(time.Duration(*cfg.Probe.FreshEvery)); got != tt.checkerFE {
			t.Errorf("%q: the checker gets FreshEvery %v, want %v", tt.probe, got, tt.checkerFE)
		}
		if got := time.Duration(*cfg.Probe.TLSWarn); got != tt.warn {
			t.Errorf("%q: tls_warn = %v, want %v", tt.probe, got, tt.warn)
		}
	}
}
