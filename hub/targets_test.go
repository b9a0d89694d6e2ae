package hub

import (
	"reflect"
	"testing"

	"linkwatch"
)

// A fallback is a target like any destination, checked once however many
// links use it, and the links depend on it as they do on their own URL.
func TestFallbackTargetsAndDependencies(t *testing.T) {
	cat, err := NewCatalog([]PageSpec{{Slug: "acme", Links: []LinkSpec{
		{Slug: "shop", URL: "https://shop.example/", Fallback: "https://backup.example/"},
		{Slug: "blog", URL: "https://backup.example/", Expect: linkwatch.Expect{Status: []int{200}}},
		{Slug: "docs", URL: "https://docs.example/", Fallback: "https://backup.example/"},
	}}}, NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tg := range cat.DestinationTargets() {
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
	deps := cat.Dependencies()
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

// Targets is the destinations, a self-check per link through the base
// given, and the canary; an empty base or canary leaves them out.
func TestTargets(t *testing.T) {
	cat, err := NewCatalog([]PageSpec{{Slug: "acme", Links: []LinkSpec{
		{Slug: "shop", URL: "https://shop.example/", Fallback: "https://backup.example/"},
	}}}, NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	kinds := func(ts []linkwatch.Target) (out []string) {
		for _, t := range ts {
			out = append(out, string(t.Kind)+" "+t.ID+" "+t.URL)
		}
		return out
	}
	got := kinds(cat.Targets("http://127.0.0.1:8080/", "https://canary.example/"))
	want := []string{
		"destination https://backup.example/ https://backup.example/",
		"destination https://shop.example/ https://shop.example/",
		"self_check " + linkwatch.SelfCheckID("acme", "shop") + " http://127.0.0.1:8080/acme/shop",
		"canary " + linkwatch.CanaryID("https://canary.example/") + " https://canary.example/",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Targets = %q, want %q", got, want)
	}
	if got := kinds(cat.Targets("", "")); len(got) != 2 {
		t.Errorf("without self-checks and canary: %q", got)
	}
	self := cat.SelfCheckTargets("http://hub.example")[0]
	if self.WantLocation != "https://shop.example/" || self.AltLocation != "https://backup.example/" || self.Series != linkwatch.SelfSeriesID("acme") {
		t.Errorf("self-check target = %+v", self)
	}
}
