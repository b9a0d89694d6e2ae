package incidents_test

import (
	"testing"

	"linkwatch/checker"
	"linkwatch/incidents"
)

// hostRounds is one interval of three regions, in order: each checks its
// canary, shopA (down unless shopAUp) and shopB (down except from a).
func (h *regions) hostRounds(n int, order []string, shopAUp bool) {
	h.t.Helper()
	for range n {
		for _, name := range order {
			a, b := down(shopA, checker.CauseConnectRefused), down(shopB, checker.CauseConnectRefused)
			if shopAUp {
				a = up(shopA)
			}
			if name == "a" {
				b = up(shopB)
			}
			h.feed(name, canary(checker.StatusUp), a, b)
		}
		h.tick()
	}
}

// TestRekeyedIncidentHeldOnce: b opens shopA's destination incident; c
// adds shopB to it, which makes it the host's incident (a new key). When
// b links shopB to it, b must hold the one incident once, as the database
// has it — not the old destination copy beside the new host copy, whose
// stale version refuses every later write (shopA's recovery here).
func TestRekeyedIncidentHeldOnce(t *testing.T) {
	h := newRegions(t, "a", "b", "c")
	h.hostRounds(4, []string{"a", "b", "c"}, false)
	real := h.byKind(incidents.KindHost)
	if len(real) != 1 || !real[0].Open() || len(real[0].Targets) != 2 {
		t.Fatalf("host incidents = %+v, want one open with shopA and shopB", real)
	}
	for _, name := range []string{"a", "b", "c"} {
		open := incidents.OpenInMemory(h.engines[name])
		if len(open) != 1 || open[real[0].Key].ID != real[0].ID {
			t.Errorf("region %s holds %d copies: %+v, want the host incident once", name, len(open), open)
		}
	}
	h.hostRounds(2, []string{"b"}, true) // feed reports any refused write
}

// TestHandOverKeepsOthersMajority: b and c see shopA fail, a sees it up:
// b and c's incident. Region a's replicas then split the hosts anew (one
// joined); a keeps shop.example and still sees it up. Taking over must
// not make a resolve the incident it holds no failing target of: the
// majority that opened it is b and c's, and they still see it fail.
func TestHandOverKeepsOthersMajority(t *testing.T) {
	h := newRegions(t, "a", "b", "c")
	for range 4 {
		h.round("b", "c")
	}
	if real := h.byKind(incidents.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Fatalf("incidents = %+v, want one open", real)
	}
	h.engines["a"].SetOwnership(func(string) bool { return true })
	for range 3 {
		h.round("b", "c")
	}
	if real := h.byKind(incidents.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Errorf("incidents = %+v, want b and c's still open", real)
	}
	if got := alertTypes(h.pages()); len(got) != 1 || got[0] != "incident.opened" {
		t.Errorf("alerts = %v, want only the opening", got)
	}
}

// TestHostIncidentOutlivesOneTargetsRecovery: of three regions, all see
// shopA fail and b and c see shopB fail too (one host, one cause): one
// host incident with both. shopA comes back, a last to see it: a holds
// only shopA of the incident (it sees shopB up), yet shopB still fails
// from a majority (b and c). The incident stays open: no resolution, and
// no second opening when b and c vote on shopB again.
func TestHostIncidentOutlivesOneTargetsRecovery(t *testing.T) {
	h := newRegions(t, "a", "b", "c")
	h.hostRounds(4, []string{"a", "b", "c"}, false)
	h.hostRounds(4, []string{"b", "c", "a"}, true)
	real := h.byKind(incidents.KindHost)
	if len(real) != 1 || !real[0].Open() {
		t.Errorf("host incidents = %+v, want the one still open: shopB fails from b and c", real)
	}
	if d := h.byKind(incidents.KindDestination); len(d) != 0 {
		t.Errorf("destination incidents = %+v, want none", d)
	}
	if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 0 {
		t.Errorf("alerts = %v, want one opening and no resolution", alertTypes(h.pages()))
	}
	// shopB comes back too: now it resolves, once.
	for range 3 {
		for _, name := range []string{"a", "b", "c"} {
			h.feed(name, canary(checker.StatusUp), up(shopA), up(shopB))
		}
		h.tick()
	}
	if real := h.byKind(incidents.KindHost); len(real) != 1 || real[0].Open() {
		t.Errorf("host incidents = %+v, want it resolved", real)
	}
	if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
		t.Errorf("alerts = %v, want one opening and one resolution", alertTypes(h.pages()))
	}
}

// countAlerts counts the openings and resolutions among alerts.
func countAlerts(alerts []incidents.Alert) (opened, resolved int) {
	for _, a := range alertTypes(alerts) {
		switch a {
		case "incident.opened":
			opened++
		case "incident.resolved":
			resolved++
		}
	}
	return opened, resolved
}
