package incidents_test

import (
	"testing"

	"linkwatch"
	"linkwatch/incidents"
)

// A certificate about to expire is one incident per host, minor, however
// far apart its links start warning; when it then expires, the incident
// becomes the outage it is.
func TestTLSExpiringIsOneMinorHostIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(degraded(shopA, linkwatch.CauseTLSExpiring))
	h.feed(degraded(shopA, linkwatch.CauseTLSExpiring))
	// shop.example/b starts warning long after the group window (a link
	// added to the config next week): the unlucky order.
	for range 30 {
		h.feed(degraded(shopA, linkwatch.CauseTLSExpiring))
	}
	h.feed(degraded(shopA, linkwatch.CauseTLSExpiring), degraded(shopB, linkwatch.CauseTLSExpiring))
	h.feed(degraded(shopA, linkwatch.CauseTLSExpiring), degraded(shopB, linkwatch.CauseTLSExpiring))
	list := h.incidents()
	if len(list) != 1 {
		t.Fatalf("%d incidents, want one for shop.example: %+v", len(list), list)
	}
	inc := list[0]
	if inc.Kind != linkwatch.KindHost || inc.Host != "shop.example" || inc.Cause != linkwatch.CauseTLSExpiring ||
		inc.Impact != linkwatch.ImpactMinor || len(inc.Targets) != 2 || len(inc.Affected) != 3 {
		t.Fatalf("incident = %+v", inc)
	}
	if got := alertTypes(h.alerts()); len(got) != 2 || got[0] != "incident.opened" || got[1] != "incident.updated/target_added" {
		t.Errorf("alerts = %v", got)
	}
	if a := h.alerts()[0]; a.Incident.Impact != linkwatch.ImpactMinor {
		t.Errorf("opening alert's impact %q, want minor", a.Incident.Impact)
	}

	// The certificate expires: every link of the host is down.
	h.feed(down(shopA, linkwatch.CauseTLSExpired), down(shopB, linkwatch.CauseTLSExpired))
	list = h.incidents()
	if len(list) != 1 || list[0].Cause != linkwatch.CauseTLSExpired || list[0].Impact != linkwatch.ImpactMajor {
		t.Fatalf("after expiry: %+v, want the host incident turned tls_expired, major", list)
	}
	if got := alertTypes(h.alerts()); len(got) != 3 || got[2] != "incident.updated/cause_changed" {
		t.Errorf("alerts = %v", got)
	}
	// Renewed: both recover, the incident resolves.
	h.feed(up(shopA), up(shopB))
	h.feed(up(shopA), up(shopB))
	if inc := h.incidents()[0]; inc.Open() {
		t.Errorf("still open after renewal: %+v", inc)
	}
}
