package linkwatch_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"linkwatch"
)

// hostAlert is a host incident on shop.example touching two pages' links.
func hostAlert(typ linkwatch.AlertType) linkwatch.Alert {
	inc := linkwatch.Incident{ID: 4, Key: "host:shop.example|http_5xx", Kind: linkwatch.KindHost, Host: "shop.example", Impact: linkwatch.ImpactMajor,
		Targets: []string{"https://shop.example/a", "https://shop.example/b", "https://shop.example/c"},
		Affected: []linkwatch.Affected{
			{Page: "acme", Link: "shop", URL: "https://shop.example/a"},
			{Page: "beta", Link: "store", URL: "https://shop.example/b"},
			{Page: "beta", Link: "cart", URL: "https://shop.example/c", Fallback: "https://backup.example/c"},
		}}
	return linkwatch.Alert{EventID: "msg_1", Type: typ, IncidentID: 4, Incident: inc,
		LastResult: &linkwatch.Result{TargetID: "https://shop.example/b", Status: linkwatch.StatusDown}}
}

func links(as []linkwatch.Affected) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Page+"/"+a.Link)
	}
	return out
}

// A host incident touching two pages reaches each page's receiver with
// that page's links only: affected, targets and evidence.
func TestFilterSplitsAHostIncidentByPage(t *testing.T) {
	a := hostAlert(linkwatch.AlertOpened)
	acme, ok := linkwatch.Filter{Pages: []string{"acme"}}.Apply(a)
	if !ok || !slices.Equal(links(acme.Incident.Affected), []string{"acme/shop"}) || !slices.Equal(acme.Incident.Targets, []string{"https://shop.example/a"}) {
		t.Fatalf("acme gets %v %v (%v)", links(acme.Incident.Affected), acme.Incident.Targets, ok)
	}
	if acme.LastResult != nil {
		t.Errorf("acme gets beta's evidence: %+v", acme.LastResult)
	}
	beta, ok := linkwatch.Filter{Pages: []string{"beta"}}.Apply(a)
	if !ok || !slices.Equal(links(beta.Incident.Affected), []string{"beta/store", "beta/cart"}) || len(beta.Incident.Targets) != 2 || beta.LastResult == nil {
		t.Fatalf("beta gets %v %v %v (%v)", links(beta.Incident.Affected), beta.Incident.Targets, beta.LastResult, ok)
	}
	if len(a.Incident.Affected) != 3 || len(a.Incident.Targets) != 3 {
		t.Errorf("filtering changed the original alert: %+v", a.Incident)
	}
	cart, ok := linkwatch.Filter{Links: []string{"beta/cart"}}.Apply(a)
	if !ok || !slices.Equal(links(cart.Incident.Affected), []string{"beta/cart"}) {
		t.Errorf("a link filter gets %v", links(cart.Incident.Affected))
	}
	if _, ok := (linkwatch.Filter{Pages: []string{"gamma"}}).Apply(a); ok {
		t.Error("a page the incident does not touch gets it")
	}
	whole, ok := linkwatch.Filter{Hosts: []string{"shop.example"}}.Apply(a)
	if !ok || len(whole.Incident.Affected) != 3 {
		t.Errorf("a host filter gets %v (%v)", links(whole.Incident.Affected), ok)
	}
	if _, ok := (linkwatch.Filter{Hosts: []string{"backup.example"}}).Apply(a); !ok {
		t.Error("a fallback's host is not in scope")
	}
}

func TestFilterEventsImpactAndAddedLinks(t *testing.T) {
	a := hostAlert(linkwatch.AlertUpdated)
	a.Reason, a.Added = "target_added", []linkwatch.Affected{a.Incident.Affected[1]}
	if _, ok := (linkwatch.Filter{Pages: []string{"acme"}}).Apply(a); ok {
		t.Error("acme is told of a beta link joining")
	}
	if got, ok := (linkwatch.Filter{Pages: []string{"beta"}}).Apply(a); !ok || len(got.Added) != 1 {
		t.Errorf("beta is not told of its link joining: %v", ok)
	}
	for _, tc := range []struct {
		f    linkwatch.Filter
		typ  linkwatch.AlertType
		imp  linkwatch.Impact
		want bool
	}{
		{linkwatch.Filter{}, linkwatch.AlertOpened, linkwatch.ImpactNone, true},
		{linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertResolved}}, linkwatch.AlertOpened, linkwatch.ImpactMajor, false},
		{linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertResolved, linkwatch.AlertOpened}}, linkwatch.AlertOpened, linkwatch.ImpactMajor, true},
		{linkwatch.Filter{MinImpact: linkwatch.ImpactMajor}, linkwatch.AlertOpened, linkwatch.ImpactMinor, false},
		{linkwatch.Filter{MinImpact: linkwatch.ImpactMajor}, linkwatch.AlertOpened, linkwatch.ImpactMajor, true},
		{linkwatch.Filter{MinImpact: linkwatch.ImpactMajor}, linkwatch.AlertOpened, linkwatch.ImpactCritical, true},
		{linkwatch.Filter{MinImpact: linkwatch.ImpactNone}, linkwatch.AlertOpened, linkwatch.ImpactNone, true},
	} {
		a := hostAlert(tc.typ)
		a.Incident.Impact = tc.imp
		if _, ok := tc.f.Apply(a); ok != tc.want {
			t.Errorf("%+v on %s/%s: %v, want %v", tc.f, tc.typ, tc.imp, ok, tc.want)
		}
	}
}

func TestFilterCheckNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		f     linkwatch.Filter
		field string
	}{
		{linkwatch.Filter{Pages: []string{"ok", "a/b"}}, "pages[1]"},
		{linkwatch.Filter{Pages: []string{""}}, "pages[0]"},
		{linkwatch.Filter{Links: []string{"acme"}}, "links[0]"},
		{linkwatch.Filter{Links: []string{"acme/"}}, "links[0]"},
		{linkwatch.Filter{Hosts: []string{"https://shop.example"}}, "hosts[0]"},
		{linkwatch.Filter{Hosts: []string{"Shop.example"}}, "hosts[0]"},
		{linkwatch.Filter{Hosts: []string{"shop.example:443"}}, "hosts[0]"},
		{linkwatch.Filter{Events: []linkwatch.AlertType{"incident.deleted"}}, "events[0]"},
		{linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertVerify}}, "events[0]"},
		{linkwatch.Filter{MinImpact: "severe"}, "min_impact"},
		{linkwatch.Filter{Pages: make([]string, 101)}, "pages"},
		{linkwatch.Filter{Pages: []string{"acme"}, Events: []linkwatch.AlertType{linkwatch.AlertOpened, linkwatch.AlertStorageUnreachable}}, "events[1]"},
		{linkwatch.Filter{Events: make([]linkwatch.AlertType, 6)}, "events"},
	} {
		if errs := tc.f.Check(nil); len(errs) == 0 || errs[0].Field != tc.field {
			t.Errorf("%+v: %v, want an error naming %s", tc.f, errs, tc.field)
		}
	}
	ok := linkwatch.Filter{Pages: []string{"acme"}, Links: []string{"beta/cart"}, Hosts: []string{"shop.example"},
		Events: linkwatch.AlertTypes, MinImpact: linkwatch.ImpactMinor}
	if errs := ok.Check(nil); len(errs) != 0 {
		t.Errorf("a valid filter: %v", errs)
	}
	everything := linkwatch.Filter{Events: append(slices.Clone(linkwatch.AlertTypes), linkwatch.StorageAlertTypes...), MinImpact: linkwatch.ImpactMajor}
	if errs := everything.Check(nil); len(errs) != 0 {
		t.Errorf("a filter of every event type: %v", errs)
	}
	// Every problem, not only the first: a config file reports them all.
	bad := linkwatch.Filter{Pages: []string{"a/b"}, Hosts: []string{"*", "ok.example", "<script>"}, MinImpact: "severe"}
	var fields []string
	for _, e := range bad.Check(nil) {
		fields = append(fields, e.Field)
	}
	if want := []string{"pages[0]", "hosts[0]", "hosts[2]", "min_impact"}; !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
}

// The database alerts are about linkwatch, not a link: receivers scoped
// to pages, links or hosts do not get them, events choose them, and they
// weigh as a major impact.
func TestFilterApplyStorage(t *testing.T) {
	down, up := linkwatch.AlertStorageUnreachable, linkwatch.AlertStorageReachable
	for _, tc := range []struct {
		f        linkwatch.Filter
		down, up bool
	}{
		{linkwatch.Filter{}, true, true},
		{linkwatch.Filter{Pages: []string{"acme"}}, false, false},
		{linkwatch.Filter{Links: []string{"acme/shop"}}, false, false},
		{linkwatch.Filter{Hosts: []string{"shop.example"}}, false, false},
		{linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertOpened, linkwatch.AlertResolved}}, false, false},
		{linkwatch.Filter{Events: []linkwatch.AlertType{down}}, true, false},
		{linkwatch.Filter{Events: []linkwatch.AlertType{down, up}}, true, true},
		{linkwatch.Filter{MinImpact: linkwatch.ImpactMajor}, true, true},
		{linkwatch.Filter{MinImpact: linkwatch.ImpactCritical}, false, false},
	} {
		if got := tc.f.ApplyStorage(down); got != tc.down {
			t.Errorf("%+v gets storage.unreachable: %v, want %v", tc.f, got, tc.down)
		}
		if got := tc.f.ApplyStorage(up); got != tc.up {
			t.Errorf("%+v gets storage.reachable: %v, want %v", tc.f, got, tc.up)
		}
	}
}

// hosts are what a destination's host is compared with: a lowercase DNS
// name in ASCII or an IP address as a URL's host reads, nothing that could
// never match (a wildcard, markup, a name in another script: its xn--
// form is asked for).
func TestFilterHosts(t *testing.T) {
	for _, h := range []string{"shop.example", "a.b.c.example", "xn--9ca.example", "my_host.example", "localhost", "203.0.113.5", "2001:db8::1",
		strings.Repeat("a", 63) + ".example"} {
		if errs := (linkwatch.Filter{Hosts: []string{h}}).Check(nil); len(errs) != 0 {
			t.Errorf("%q refused: %v", h, errs)
		}
	}
	for h, msg := range map[string]string{
		"<script>": "host name", "*": "host name", "*.example": "host name", "é.example": `"xn--9ca.example" for "é.example"`,
		"shop.example.": "host name", ".example": "host name", "a..example": "host name", "-shop.example": "host name", "shop-.example": "host name",
		"shop example": "host name", "shop.example/x": "host name", "user@shop.example": "host name", "[2001:db8::1]": "host name",
		"2001:DB8::1": `"2001:db8::1"`, "2001:db8:0:0::1": `"2001:db8::1"`, "fe80::1%eth0": `"fe80::1"`, "": "host name",
		strings.Repeat("a", 64) + ".example": "host name", strings.Repeat("a.", 127) + "ab": "host name", "shop\x00.example": "host name",
	} {
		errs := (linkwatch.Filter{Hosts: []string{h}}).Check(nil)
		if len(errs) != 1 || errs[0].Field != "hosts[0]" || !strings.Contains(errs[0].Msg, msg) {
			t.Errorf("%q: %v, want hosts[0] saying %s", h, errs, msg)
		}
	}
}

// A host incident on a name written in another script in its URLs
// reaches the receiver of its xn-- form, and a destination's link too.
func TestFilterMatchesAnInternationalHost(t *testing.T) {
	a := hostAlert(linkwatch.AlertOpened)
	a.Incident.Host = "é.example"
	a.Incident.Affected[0].URL = "https://é.example/a"
	if _, ok := (linkwatch.Filter{Hosts: []string{"xn--9ca.example"}}).Apply(a); !ok {
		t.Error("the xn-- form does not match the host incident")
	}
	a.Incident.Host = ""
	if got, ok := (linkwatch.Filter{Hosts: []string{"xn--9ca.example"}}).Apply(a); !ok || !slices.Equal(links(got.Incident.Affected), []string{"acme/shop"}) {
		t.Errorf("the xn-- form gets %v (%v), want acme/shop", links(got.Incident.Affected), ok)
	}
}

// With a catalog, the pages and links a filter names must be configured:
// a link on a known page is checked too.
func TestFilterCheckAgainstTheCatalog(t *testing.T) {
	cat := linkwatch.PageLinks{"acme": {"shop"}, "beta": nil}
	f := linkwatch.Filter{Pages: []string{"acme", "gamma"}, Links: []string{"acme/shop", "acme/cart", "gamma/x", "beta/store"}}
	var got []string
	for _, e := range f.Check(cat) {
		got = append(got, e.Field+": "+e.Msg)
	}
	want := []string{`pages[1]: no page "gamma" is configured`, `links[1]: no link "acme/cart" is configured`,
		`links[2]: no page "gamma" is configured`, `links[3]: no link "beta/store" is configured`}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if errs := f.Check(nil); len(errs) != 0 {
		t.Errorf("without a catalog, the form only: %v", errs)
	}
}

// FuzzFilter: any filter that decodes from JSON either fails validation
// with a named field or applies to an alert without panicking, never
// widening the payload.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`{}`, `{"pages":["acme"]}`, `{"links":["beta/cart"],"events":["incident.opened"]}`,
		`{"hosts":["shop.example"],"min_impact":"major"}`, `{"pages":["a/b"]}`, `{"min_impact":"x"}`, `{"hosts":["\u0000"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var flt linkwatch.Filter
		if json.Unmarshal(b, &flt) != nil {
			return
		}
		if errs := flt.Check(nil); len(errs) > 0 {
			for _, fe := range errs {
				if fe.Field == "" || strings.ContainsAny(fe.Field, " \n") {
					t.Fatalf("error without a field: %v", fe)
				}
			}
			return
		}
		a := hostAlert(linkwatch.AlertOpened)
		got, ok := flt.Apply(a)
		if ok && len(got.Incident.Affected) > len(a.Incident.Affected) {
			t.Fatalf("filtering widened the payload")
		}
	})
}
