package main

import (
	"reflect"
	"testing"

	"linkwatch/checker"
	"linkwatch/hub"
	"linkwatch/incidents"
)

// A fallback is a target like any destination, checked once however many
// links use it, and the links depend on it as they do on their own URL.
func TestFallbackTargetsAndDependencies(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
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
	cat, err := hub.NewCatalog(cfg.catalogSpec(), hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tg := range destinationTargets(cfg, cat) {
		ids = append(ids, tg.ID)
		if tg.Kind != checker.KindDestination {
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
	shop := incidents.Affected{Page: "acme", Link: "shop", URL: "https://shop.example/", Fallback: "https://backup.example/"}
	docs := incidents.Affected{Page: "acme", Link: "docs", URL: "https://docs.example/", Fallback: "https://backup.example/"}
	blog := incidents.Affected{Page: "acme", Link: "blog", URL: "https://backup.example/"}
	if got := deps["https://backup.example/"]; !reflect.DeepEqual(got, []incidents.Affected{shop, blog, docs}) {
		t.Errorf("deps of the fallback = %+v", got)
	}
	if got := deps["https://shop.example/"]; !reflect.DeepEqual(got, []incidents.Affected{shop}) {
		t.Errorf("deps of shop = %+v", got)
	}
}
