package incidents_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

// replicaIn starts one more replica, name, of region over the shared
// database, checking every target or none (owns).
func (h *regions) replicaIn(region, name string, owns bool) *incidents.Engine {
	h.t.Helper()
	cfg := incidents.Config{Region: region, Replica: name, CanaryID: canaryURL, Interval: 10 * time.Second}
	eng, err := incidents.NewEngine(context.Background(), cfg, h.db, deps, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	incidents.SetClock(eng, func() time.Time { return h.now })
	eng.SetOwnership(func(string) bool { return owns })
	h.engines[name] = eng
	return eng
}

// hostRounds is one interval of three regions, in order: each checks its
// canary, shopA (down unless shopAUp) and shopB (down except from a).
func (h *regions) hostRounds(n int, order []string, shopAUp bool) {
	h.t.Helper()
	for range n {
		for _, name := range order {
			a, b := down(shopA, linkwatch.CauseConnectRefused), down(shopB, linkwatch.CauseConnectRefused)
			if shopAUp {
				a = up(shopA)
			}
			if name == "a" {
				b = up(shopB)
			}
			h.feed(name, canary(linkwatch.StatusUp), a, b)
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
	t.Parallel()
	h := newRegions(t, "a", "b", "c")
	h.hostRounds(4, []string{"a", "b", "c"}, false)
	real := h.byKind(linkwatch.KindHost)
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
	t.Parallel()
	h := newRegions(t, "a", "b", "c")
	for range 4 {
		h.round("b", "c")
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Fatalf("incidents = %+v, want one open", real)
	}
	h.engines["a"].SetOwnership(func(string) bool { return true })
	for range 3 {
		h.round("b", "c")
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() {
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
	t.Parallel()
	h := newRegions(t, "a", "b", "c")
	h.hostRounds(4, []string{"a", "b", "c"}, false)
	h.hostRounds(4, []string{"b", "c", "a"}, true)
	real := h.byKind(linkwatch.KindHost)
	if len(real) != 1 || !real[0].Open() {
		t.Errorf("host incidents = %+v, want the one still open: shopB fails from b and c", real)
	}
	if d := h.byKind(linkwatch.KindDestination); len(d) != 0 {
		t.Errorf("destination incidents = %+v, want none", d)
	}
	if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 0 {
		t.Errorf("alerts = %v, want one opening and no resolution", alertTypes(h.pages()))
	}
	// shopB comes back too: now it resolves, once.
	for range 3 {
		for _, name := range []string{"a", "b", "c"} {
			h.feed(name, canary(linkwatch.StatusUp), up(shopA), up(shopB))
		}
		h.tick()
	}
	if real := h.byKind(linkwatch.KindHost); len(real) != 1 || real[0].Open() {
		t.Errorf("host incidents = %+v, want it resolved", real)
	}
	if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
		t.Errorf("alerts = %v, want one opening and one resolution", alertTypes(h.pages()))
	}
}

// countAlerts counts the openings and resolutions among alerts.
func countAlerts(alerts []linkwatch.Alert) (opened, resolved int) {
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

// raceWrite is a store on which another region's engine writes to the
// incident a change is about just before the change itself is written
// (when armed): the unlucky order where a copy read a moment ago is
// already stale.
type raceWrite struct {
	*storage.DB
	armed atomic.Bool
}

func (s *raceWrite) Record(ctx context.Context, c incidents.Change) (linkwatch.Incident, error) {
	if c.Incident.ID != 0 && s.armed.Swap(false) {
		cur, err := s.DB.Incident(ctx, c.Incident.ID)
		if err != nil {
			return linkwatch.Incident{}, err
		}
		other := incidents.Change{Incident: cur, Events: []linkwatch.Event{{At: cur.UpdatedAt, Kind: linkwatch.EventRegions, Body: "another region's line"}}}
		if _, err := s.DB.Record(ctx, other); err != nil {
			return linkwatch.Incident{}, err
		}
	}
	return s.DB.Record(ctx, c)
}

// TestStaleRegionWriteDecidedAgain: c is the third region to see shopA
// fail and joins the incident b opened; another region writes to it just
// before c's timeline line. c's write is refused as stale, and c decides
// again from the incident as it is now — the same rule as between the
// replicas of one region: the result is not lost, nothing fails.
func TestStaleRegionWriteDecidedAgain(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "a", "b")
	race := &raceWrite{DB: h.db}
	h.start("c", race)
	h.round("a", "b", "c")
	for _, name := range []string{"a", "b"} {
		h.feed(name, canary(linkwatch.StatusUp), down(shopA, linkwatch.CauseConnectRefused))
	}
	real := h.byKind(linkwatch.KindDestination)
	if len(real) != 1 {
		t.Fatalf("incidents = %+v, want b's", real)
	}
	h.feed("c", canary(linkwatch.StatusUp))
	race.armed.Store(true)
	r := linkwatch.Result{TargetID: shopA, Kind: linkwatch.TargetDestination, URL: shopA, Start: h.now, Status: linkwatch.StatusDown,
		Cause: linkwatch.CauseConnectRefused, Summary: "refused"}
	if err := h.engines["c"].Handle(context.Background(), r); err != nil {
		t.Fatalf("c's join refused as stale: %v, want it decided again", err)
	}
	if race.armed.Load() {
		t.Fatal("c wrote nothing to the incident")
	}
	if ev := h.events(real[0].ID); !strings.Contains(ev, "c sees "+shopA+" failing too") {
		t.Errorf("c's line is missing from the timeline:\n%s", ev)
	}
	if open := incidents.OpenInMemory(h.engines["c"]); len(open) != 1 || open[real[0].Key].ID != real[0].ID {
		t.Errorf("c holds %+v, want b's incident", open)
	}
	// shopA is back: a sees it first (b and c still a majority), then c,
	// whose resolution is refused as stale by another region's line, and
	// made again from the incident as it is now.
	h.tick()
	for range 2 {
		h.feed("a", canary(linkwatch.StatusUp), up(shopA))
		h.tick()
	}
	h.feed("c", canary(linkwatch.StatusUp), up(shopA))
	race.armed.Store(true)
	r = linkwatch.Result{TargetID: shopA, Kind: linkwatch.TargetDestination, URL: shopA, Start: h.now, Status: linkwatch.StatusUp}
	if err := h.engines["c"].Handle(context.Background(), r); err != nil {
		t.Fatalf("c's resolution refused as stale: %v, want it decided again", err)
	}
	if race.armed.Load() {
		t.Fatal("c wrote nothing to the incident")
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || real[0].Open() {
		t.Errorf("incidents = %+v, want it resolved", real)
	}
	if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
		t.Errorf("alerts = %v, want one opening and one resolution", alertTypes(h.pages()))
	}
	if open := incidents.OpenInMemory(h.engines["c"]); len(open) != 0 {
		t.Errorf("c still holds %+v", open)
	}
}

// TestHostMovesWithinARegion: region a has two replicas, a1 then a2
// checking shop.example; b is the other region. Both regions see shopA
// fail: one incident. The host moves from a1 to a2 mid-outage: a2
// continues a's part from the database (no second incident, no alert),
// a1 lets go, and when shopA is back it resolves once.
func TestHostMovesWithinARegion(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "b")
	start := func(name string, owns bool) *incidents.Engine { return h.replicaIn("a", name, owns) }
	a1, a2 := start("a1", true), start("a2", false)
	round := func(owner string, failing bool) {
		st := up(shopA)
		if failing {
			st = down(shopA, linkwatch.CauseConnectRefused)
		}
		h.feed("a1", canary(linkwatch.StatusUp))
		h.feed("a2", canary(linkwatch.StatusUp))
		h.feed(owner, st)
		h.feed("b", canary(linkwatch.StatusUp), st)
		h.tick()
	}
	for range 4 {
		round("a1", true)
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Fatalf("incidents = %+v, want one open", real)
	}
	a1.SetOwnership(func(string) bool { return false })
	a2.SetOwnership(func(string) bool { return true })
	for range 4 {
		round("a2", true)
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Fatalf("after the move: incidents = %+v, want the one still open", real)
	}
	if n := h.byKind(linkwatch.KindRegional); len(n) > 0 && n[0].Open() {
		t.Errorf("a regional note after the move: %+v", n[0])
	}
	if open := incidents.OpenInMemory(a2); len(open) != 1 {
		t.Errorf("a2 holds %+v, want the incident", open)
	}
	for range 3 {
		round("a2", false)
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || real[0].Open() {
		t.Errorf("incidents = %+v, want it resolved", real)
	}
	if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
		t.Errorf("alerts = %v, want one opening and one resolution", alertTypes(h.pages()))
	}
	for _, eng := range []*incidents.Engine{a1, a2} {
		if open := incidents.OpenInMemory(eng); len(open) != 0 {
			t.Errorf("a replica still holds %+v", open)
		}
	}
}

// TestOneReplicasCanaryDoesNotSilenceItsRegion: region a has two
// replicas; a1 checks shop.example and sees it up, a2's own network is
// down (its canary fails). b sees shopA fail. a still proves its network
// through a1, and a1 sees shopA up: 1 of 2, a note, no page — a2's canary
// must not take region a out of the vote by writing the region's canary
// row last.
func TestOneReplicasCanaryDoesNotSilenceItsRegion(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "b")
	start := func(name string, owns bool) *incidents.Engine { return h.replicaIn("a", name, owns) }
	start("a1", true)
	start("a2", false)
	for range 5 {
		h.feed("a1", canary(linkwatch.StatusUp), up(shopA))
		h.feed("a2", canary(linkwatch.StatusDown))
		h.feed("b", canary(linkwatch.StatusUp), down(shopA, linkwatch.CauseConnectRefused))
		h.tick()
	}
	if got := h.pages(); len(got) != 0 {
		t.Errorf("paged on b's view alone: %v", alertTypes(got))
	}
	if n := h.byKind(linkwatch.KindRegional); len(n) != 1 || !n[0].Open() || n[0].Title != "acme/a is unreachable from b" {
		t.Errorf("notes = %+v, want b's", n)
	}
}

// TestHandOverWritesSeenUpOnce: regions a (replicas a1 and a2), b and c
// see shopA fail: one incident. a1 sees it up again while b and c still
// see it fail: a line "a sees ... up again" in the timeline, and a leaves
// the incident to b and c. The host then moves from a1 to a2, which still
// sees it up. a2 continues a's part from the database, where a's verdict
// says it is up: it neither takes the incident back nor writes the line a
// second time.
func TestHandOverWritesSeenUpOnce(t *testing.T) {
	t.Parallel()
	h := newRegions(t, "b", "c")
	a1, a2 := h.replicaIn("a", "a1", true), h.replicaIn("a", "a2", false)
	round := func(owner string, aFails bool) {
		st := up(shopA)
		if aFails {
			st = down(shopA, linkwatch.CauseConnectRefused)
		}
		h.feed("a1", canary(linkwatch.StatusUp))
		h.feed("a2", canary(linkwatch.StatusUp))
		h.feed(owner, st)
		for _, r := range []string{"b", "c"} {
			h.feed(r, canary(linkwatch.StatusUp), down(shopA, linkwatch.CauseConnectRefused))
		}
		h.tick()
	}
	for range 4 {
		round("a1", true)
	}
	for range 3 {
		round("a1", false)
	}
	real := h.byKind(linkwatch.KindDestination)
	if len(real) != 1 || !real[0].Open() {
		t.Fatalf("incidents = %+v, want b and c's open", real)
	}
	seenUp := func() int { return strings.Count(h.events(real[0].ID), "a sees "+shopA+" up again") }
	if n := seenUp(); n != 1 {
		t.Fatalf("a's recovery is in the timeline %d times before the move, want once:\n%s", n, h.events(real[0].ID))
	}
	a1.SetOwnership(func(string) bool { return false })
	a2.SetOwnership(func(string) bool { return true })
	for range 4 {
		round("a2", false)
	}
	if n := seenUp(); n != 1 {
		t.Errorf("a's recovery is in the timeline %d times after the move, want once:\n%s", n, h.events(real[0].ID))
	}
	if open := incidents.OpenInMemory(a2); len(open) != 0 {
		t.Errorf("a2 holds %+v, want nothing: a sees shopA up", open)
	}
	if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() {
		t.Errorf("incidents = %+v, want b and c's still open", real)
	}
	if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 0 {
		t.Errorf("alerts = %v, want the one opening", alertTypes(h.pages()))
	}
}

// TestCanaryFailingFromOneRegionIsItsProberOffline: the canary's failure
// is judged across regions. a1's canary fails while its destinations
// answer, and region b reaches the canary: the canary is up, so it is
// a1's own network — a1's prober_offline incident (its region leaves the
// vote), not "the canary is down". Once b fails the canary too, no one
// reaches it: the canary itself is down, as a single region sees it.
func TestCanaryFailingFromOneRegionIsItsProberOffline(t *testing.T) {
	t.Parallel()
	h := newRegions(t)
	h.replicaIn("a", "a1", true)
	h.replicaIn("b", "b1", true)
	for range 4 {
		h.feed("a1", canary(linkwatch.StatusDown), up(shopA))
		h.feed("b1", canary(linkwatch.StatusUp), up(shopA))
		h.tick()
	}
	offline := h.byKind(linkwatch.KindProberOffline)
	if len(offline) != 1 || !offline[0].Open() || offline[0].Key != linkwatch.ReplicaKey(linkwatch.ProberKey, "a1") || !strings.Contains(offline[0].Summary, "while b reaches it") {
		t.Fatalf("prober_offline incidents = %+v, want a1's, naming b", offline)
	}
	if c := h.byKind(linkwatch.KindCanary); len(c) != 0 {
		t.Fatalf("canary incidents = %+v, want none: b reaches the canary", c)
	}
	for range 4 {
		h.feed("a1", canary(linkwatch.StatusDown), up(shopA))
		h.feed("b1", canary(linkwatch.StatusDown), up(shopA))
		h.tick()
	}
	if c := h.byKind(linkwatch.KindCanary); len(c) != 1 || c[0].Key != linkwatch.ReplicaKey(linkwatch.CanaryKey, "b1") {
		t.Errorf("canary incidents = %+v, want b1's: no one reaches the canary", c)
	}
}
