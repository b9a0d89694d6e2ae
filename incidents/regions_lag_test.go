package incidents_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

// interval feeds one interval of checks of shopA: each region in order
// checks it (up or down as status says, by region) and its canary, the
// canary first or last, then the clock moves on.
func (h *regions) interval(order []string, canaryLast bool, status map[string]string) {
	h.t.Helper()
	for _, name := range order {
		dest := up(shopA)
		if status[name] == "down" {
			dest = down(shopA, linkwatch.CauseConnectRefused)
		}
		if canaryLast {
			h.feed(name, dest, canary(linkwatch.StatusUp))
		} else {
			h.feed(name, canary(linkwatch.StatusUp), dest)
		}
	}
	h.tick()
}

// resolveOn resolves incident id by hand on region name's engine, running.
func (h *regions) resolveOn(name string, id int64) (linkwatch.Incident, error) {
	eng := h.engines[name]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx, nil); close(done) }()
	incidents.Sync(eng)
	inc, err := eng.Resolve(context.Background(), id, "alice", "a transit provider's route, fixed")
	cancel()
	<-done
	return inc, err
}

// notesSince returns the regional notes open at from or after it.
func (h *regions) notesSince(from time.Time) []linkwatch.Incident {
	h.t.Helper()
	var out []linkwatch.Incident
	for _, n := range h.byKind(linkwatch.KindRegional) {
		if n.Open() || n.ResolvedAt.After(from) {
			out = append(out, n)
		}
	}
	return out
}

// TestRecoveryLagOpensNoNote: every region saw shopA fail (one incident);
// then it comes back, and the regions see it in every unlucky order: one
// region a check behind the others, the other way round, the canary of
// each region first or last in its interval (so its vote of the interval
// comes before or after its result), with two and three regions, and one
// region a whole interval late. The first regions to see the recovery
// resolve the incident; the late one, still failing by its verdict then,
// must not open a regional note: its failure began before the end, and it
// sees the destination up at its next checks. Before, the resolving
// region opened "unreachable from <late region>", back-dated into the
// incident, which the late region resolved a check later.
func TestRecoveryLagOpensNoNote(t *testing.T) {
	t.Parallel()
	type recovery struct {
		name       string
		regions    []string
		order      []string       // of the regions' checks within an interval
		late       map[string]int // intervals a region still sees it down after the others recover
		canaryLast bool
		pg         bool // run on PostgreSQL too (a database each: the slow part)
	}
	var cases []recovery
	for _, canaryLast := range []bool{false, true} {
		at := map[bool]string{false: "canary first", true: "canary last"}[canaryLast]
		cases = append(cases,
			recovery{"us then eu, " + at, []string{"eu", "us"}, []string{"us", "eu"}, nil, canaryLast, canaryLast},
			recovery{"eu then us, " + at, []string{"eu", "us"}, []string{"eu", "us"}, nil, canaryLast, false},
			recovery{"three regions, c a check behind, " + at, []string{"a", "b", "c"}, []string{"a", "b", "c"}, nil, canaryLast, false},
			recovery{"three regions, c an interval behind, " + at, []string{"a", "b", "c"}, []string{"c", "a", "b"}, map[string]int{"c": 1}, canaryLast, canaryLast},
			recovery{"two regions, eu an interval behind, " + at, []string{"eu", "us"}, []string{"us", "eu"}, map[string]int{"eu": 1}, canaryLast, false},
		)
	}
	onBothStores(t, func(t *testing.T, open func(*testing.T) *storage.DB, pg bool) {
		for _, tc := range cases {
			if pg && !tc.pg {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				h := newRegionsOn(t, open(t), tc.regions...)
				down := map[string]string{}
				for _, r := range tc.regions {
					down[r] = "down"
				}
				for range 4 {
					h.interval(tc.order, tc.canaryLast, down)
				}
				real := h.byKind(linkwatch.KindDestination)
				if len(real) != 1 || !real[0].Open() {
					t.Fatalf("incidents = %+v, want one open", real)
				}
				began := h.now
				for i := range 4 {
					status := map[string]string{}
					for r, n := range tc.late {
						if i < n {
							status[r] = "down"
						}
					}
					h.interval(tc.order, tc.canaryLast, status)
				}
				real = h.byKind(linkwatch.KindDestination)
				if len(real) != 1 || real[0].Open() {
					t.Fatalf("incidents = %+v, want the one resolved", real)
				}
				for _, n := range h.notesSince(began) {
					t.Errorf("a regional note beside the incident (resolved %v): %q, %v to %v\n%s",
						real[0].ResolvedAt, n.Title, n.StartedAt, n.ResolvedAt, h.events(n.ID))
				}
				if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
					t.Errorf("alerts = %v, want one opening and one resolution", alertTypes(h.pages()))
				}
				for name, eng := range h.engines {
					if open := incidents.OpenInMemory(eng); len(open) != 0 {
						t.Errorf("region %s still holds %+v", name, open)
					}
				}
			})
		}
	})
}

// TestStillFailingAfterMajorityNotesFreshFailures: shopA fails from two
// regions of two, then eu keeps failing while us sees it up. The
// incident resolves (1 of 2 is no majority); eu's failure is a regional
// note only once eu has failed failure_threshold checks after the
// resolution, and the note begins then: it never reaches back into the
// incident. With three regions the same holds for the one left failing.
func TestStillFailingAfterMajorityNotesFreshFailures(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, open func(*testing.T) *storage.DB, pg bool) {
		// eu checks last in each interval: its check of the interval the
		// incident resolves in is its first failure after the end.
		for _, regions := range [][]string{{"us", "eu"}, {"ap", "us", "eu"}} {
			t.Run(fmt.Sprint(len(regions), " regions"), func(t *testing.T) {
				h := newRegionsOn(t, open(t), regions...)
				all := map[string]string{}
				for _, r := range regions {
					all[r] = "down"
				}
				for range 4 {
					h.interval(regions, false, all)
				}
				eu := map[string]string{"eu": "down"}
				recovery := h.now
				h.interval(regions, false, eu)
				h.interval(regions, false, eu) // the others' second success: resolved
				real := h.byKind(linkwatch.KindDestination)
				if len(real) != 1 || real[0].Open() {
					t.Fatalf("incidents = %+v, want it resolved", real)
				}
				end := real[0].ResolvedAt
				if n := h.notesSince(recovery); len(n) != 0 {
					t.Fatalf("a note at the resolution, from eu's failure before it: %+v", n)
				}
				h.interval(regions, false, eu) // eu's second failure after the end
				n := h.notesSince(recovery)
				if len(n) != 1 || !n[0].Open() || n[0].Title != "acme/a is unreachable from eu" || n[0].StartedAt.Before(end) {
					t.Fatalf("notes = %+v, want eu's, open, begun at or after the end %v", n, end)
				}
				if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
					t.Errorf("alerts = %v", alertTypes(h.pages()))
				}
			})
		}
	})
}

// TestRegionalNoteResolvedByHand: only region a sees shopA fail: a note.
// An operator resolves it by hand, on the engine of the region that sees
// the failure or of the one that does not (the admin API answers on any
// replica, and no engine holds a note). It resolves with the operator's
// words as a public update and no alert; resolving it again is refused.
// a still sees shopA failing: its next check does not reopen the note,
// nor does its next vote; a new note opens only after failure_threshold
// fresh failures after the resolution, and begins then.
func TestRegionalNoteResolvedByHand(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, open func(*testing.T) *storage.DB, pg bool) {
		for _, by := range []string{"a", "b"} {
			t.Run("on "+by, func(t *testing.T) {
				h := newRegionsOn(t, open(t), "a", "b")
				for range 3 {
					h.round("a")
				}
				notes := h.byKind(linkwatch.KindRegional)
				if len(notes) != 1 || !notes[0].Open() {
					t.Fatalf("notes = %+v", notes)
				}
				got, err := h.resolveOn(by, notes[0].ID)
				if err != nil {
					t.Fatalf("resolve the note by hand on %s: %v", by, err)
				}
				if got.Open() || got.Status != linkwatch.StatusResolved {
					t.Errorf("resolved note = %+v", got)
				}
				end := got.ResolvedAt
				ups, err := h.db.IncidentUpdates(context.Background(), notes[0].ID)
				if err != nil || len(ups) != 1 || ups[0].Body != "a transit provider's route, fixed" {
					t.Errorf("public updates = %+v, %v; want the operator's note", ups, err)
				}
				if _, err := h.resolveOn("a", notes[0].ID); !errors.Is(err, linkwatch.ErrConflict) {
					t.Errorf("resolved twice: %v, want ErrConflict", err)
				}
				h.round("a")
				if n := h.byKind(linkwatch.KindRegional); len(n) != 1 || n[0].Open() {
					t.Fatalf("notes after one more check from a = %+v, want the one, resolved", n)
				}
				h.round("a")
				n := h.byKind(linkwatch.KindRegional)
				if len(n) != 2 || !n[0].Open() || n[0].StartedAt.Before(end) {
					t.Fatalf("notes = %+v, want a new one from a's fresh failures after %v", n, end)
				}
				if got := h.pages(); len(got) != 0 {
					t.Errorf("a note paged: %v", alertTypes(got))
				}
			})
		}
	})
}

// TestRegionalNotesGroupedByHost: shopA and shopB, one host, fail from
// region a only: one note for the host, as one incident for a host. When
// b sees shopA fail too, shopA's incident opens and the note keeps shopB;
// the note resolves when shopB is up again. No note alerts.
func TestRegionalNotesGroupedByHost(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, open func(*testing.T) *storage.DB, pg bool) {
		h := newRegionsOn(t, open(t), "a", "b")
		refused := linkwatch.CauseConnectRefused
		for range 3 {
			h.feed("a", canary(linkwatch.StatusUp), down(shopA, refused), down(shopB, refused))
			h.feed("b", canary(linkwatch.StatusUp), up(shopA), up(shopB))
			h.tick()
		}
		notes := h.byKind(linkwatch.KindRegional)
		if len(notes) != 1 || !notes[0].Open() || len(notes[0].Targets) != 2 || notes[0].Title != "shop.example: 2 destinations unreachable from a" ||
			notes[0].Key != linkwatch.RegionalKey("shop.example") || len(notes[0].Affected) != 3 {
			t.Fatalf("notes = %+v, want one for shop.example, with shopA and shopB and their three links", notes)
		}
		for range 3 {
			h.feed("a", canary(linkwatch.StatusUp), down(shopA, refused), down(shopB, refused))
			h.feed("b", canary(linkwatch.StatusUp), down(shopA, refused), up(shopB))
			h.tick()
		}
		if real := h.byKind(linkwatch.KindDestination); len(real) != 1 || !real[0].Open() || real[0].Targets[0] != shopA {
			t.Fatalf("incidents = %+v, want shopA's", real)
		}
		notes = h.byKind(linkwatch.KindRegional)
		if len(notes) != 1 || !notes[0].Open() || len(notes[0].Targets) != 1 || notes[0].Targets[0] != shopB || notes[0].Title != "acme/b and 1 more is unreachable from a" {
			t.Fatalf("notes = %+v, want the one, with shopB alone", notes)
		}
		if ev := h.events(notes[0].ID); !strings.Contains(ev, shopA+": seen failing from a majority of regions") {
			t.Errorf("the note's timeline does not tell where shopA went:\n%s", ev)
		}
		for range 3 {
			h.feed("a", canary(linkwatch.StatusUp), up(shopA), up(shopB))
			h.feed("b", canary(linkwatch.StatusUp), up(shopA), up(shopB))
			h.tick()
		}
		if n := h.byKind(linkwatch.KindRegional); len(n) != 1 || n[0].Open() {
			t.Errorf("notes = %+v, want the one resolved", n)
		}
		if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
			t.Errorf("alerts = %v, want shopA's opening and resolution only", alertTypes(h.pages()))
		}
	})
}

// TestHubRedirectsVoted: the hub's self-checks are voted on as
// destinations are. A redirect wrong from region a only is a regional
// note about the hub, never a page; wrong from both regions, the hub's
// incident opens once (critical, one alert), and resolves once.
func TestHubRedirectsVoted(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, open func(*testing.T) *storage.DB, pg bool) {
		h := newRegionsOn(t, open(t), "a", "b")
		wrong := self("self:/ada/blog", linkwatch.StatusDown, linkwatch.CauseHubRedirectWrong)
		right := self("self:/ada/blog", linkwatch.StatusUp, "")
		for range 3 {
			h.feed("a", canary(linkwatch.StatusUp), wrong)
			h.feed("b", canary(linkwatch.StatusUp), right)
			h.tick()
		}
		if hub := h.byKind(linkwatch.KindHub); len(hub) != 0 {
			t.Fatalf("a redirect wrong from one region of two opened %+v", hub)
		}
		notes := h.byKind(linkwatch.KindRegional)
		if len(notes) != 1 || !notes[0].Open() || notes[0].Key != linkwatch.RegionalHubKey || notes[0].Title != "Hub redirects failing from a" {
			t.Fatalf("notes = %+v, want the hub's", notes)
		}
		if got := h.pages(); len(got) != 0 {
			t.Fatalf("paged: %v", alertTypes(got))
		}
		for range 3 {
			h.feed("a", canary(linkwatch.StatusUp), wrong)
			h.feed("b", canary(linkwatch.StatusUp), wrong)
			h.tick()
		}
		hub := h.byKind(linkwatch.KindHub)
		if len(hub) != 1 || !hub[0].Open() || hub[0].Impact != linkwatch.ImpactCritical || !strings.Contains(hub[0].Summary, "failing from a and b") {
			t.Fatalf("hub incidents = %+v, want one open, critical, naming both regions", hub)
		}
		if n := h.byKind(linkwatch.KindRegional); n[0].Open() {
			t.Errorf("the hub's note is open beside its incident: %+v", n[0])
		}
		recovery := h.now
		for range 3 {
			h.feed("a", canary(linkwatch.StatusUp), right)
			h.feed("b", canary(linkwatch.StatusUp), right)
			h.tick()
		}
		if hub := h.byKind(linkwatch.KindHub); len(hub) != 1 || hub[0].Open() {
			t.Errorf("hub incidents = %+v, want it resolved", hub)
		}
		if opened, resolved := countAlerts(h.pages()); opened != 1 || resolved != 1 {
			t.Errorf("alerts = %v, want one opening and one resolution", alertTypes(h.pages()))
		}
		if n := h.notesSince(recovery); len(n) != 0 {
			t.Errorf("a note beside the hub's incident: %+v", n)
		}
	})
}
