package incidents_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

// fleet is n destinations spread over hosts, with their dependency view.
func fleet(n, hosts int) ([]string, map[string][]linkwatch.Affected) {
	deps := map[string][]linkwatch.Affected{}
	var urls []string
	for i := range n {
		u := fmt.Sprintf("https://host%d.example/link%d", i%hosts, i)
		urls = append(urls, u)
		deps[u] = []linkwatch.Affected{{Page: "p" + fmt.Sprint(i%hosts), Link: fmt.Sprint("l", i), URL: u}}
	}
	return urls, deps
}

func newFleetHarness(t *testing.T, cfg incidents.Config, deps map[string][]linkwatch.Affected) *harness {
	t.Helper()
	h := &harness{t: t, db: sqlitetest.MustOpen(t), cfg: cfg, now: t0, deps: deps}
	h.db.SetClock(func() time.Time { return h.now })
	h.restart()
	return h
}

// round feeds one interval in which every target is checked at its own slot
// and the results arrive in the order the checks end, as from the
// scheduler: the canary at canarySlot (0 first, 0.99 last). A check that
// starts at or after netDownAt, before netUpAt, fails with connect_timeout
// after the timeout; so does every check of a destination in down.
func (h *harness) round(urls []string, canarySlot float64, netDownAt, netUpAt time.Time, down map[string]bool) {
	h.t.Helper()
	const interval = 10 * time.Second
	var rs []linkwatch.Result
	add := func(id string, kind linkwatch.TargetKind, slot float64) {
		start := h.now.Add(time.Duration(slot * float64(interval)))
		r := linkwatch.Result{TargetID: id, Kind: kind, URL: strings.TrimPrefix(id, "canary:"), Start: start,
			Latency: 20 * time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200}
		netDown := !start.Before(netDownAt) && start.Before(netUpAt)
		if netDown || down[id] {
			r.Status, r.Cause, r.Latency, r.StatusCode = linkwatch.StatusDown, linkwatch.CauseConnectTimeout, 5*time.Second, 0
			r.Summary = "connect to " + r.URL + " timed out"
		}
		rs = append(rs, r)
	}
	for i, u := range urls {
		add(u, linkwatch.TargetDestination, float64(i)/float64(len(urls)))
	}
	add(canaryURL, linkwatch.TargetCanary, canarySlot)
	slices.SortStableFunc(rs, func(a, b linkwatch.Result) int { return a.Start.Add(a.Latency).Compare(b.Start.Add(b.Latency)) })
	for _, r := range rs {
		if err := h.eng.Handle(context.Background(), r); err != nil {
			h.t.Fatalf("Handle(%s): %v", r.TargetID, err)
		}
	}
	h.now = h.now.Add(interval)
}

var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// TestProberNetworkDownNeverPagesForDestinations is the prober's own network
// failing: whatever the canary's place in the cycle, whenever in the cycle
// the network fails, and however many destinations, no destination or host
// alert goes out; one prober_offline incident does, and everything resolves.
func TestProberNetworkDownNeverPagesForDestinations(t *testing.T) {
	t.Parallel()
	for _, n := range []int{20, 1000} {
		for _, canarySlot := range []float64{0, 0.5, 0.999} {
			for _, failAt := range []float64{0, 0.3, 0.97} {
				t.Run(fmt.Sprintf("%d destinations, canary at %.0f%%, network fails at %.0f%%", n, canarySlot*100, failAt*100), func(t *testing.T) {
					urls, deps := fleet(n, 10)
					h := newFleetHarness(t, incidents.Config{CanaryID: canaryURL}, deps)
					for range 3 {
						h.round(urls, canarySlot, never, never, nil)
					}
					downAt := h.now.Add(time.Duration(failAt * float64(10*time.Second)))
					upAt := downAt.Add(60 * time.Second)
					for range 12 {
						h.round(urls, canarySlot, downAt, upAt, nil)
					}
					var got []string
					for _, a := range h.alerts() {
						if a.Incident.Kind != linkwatch.KindProberOffline {
							got = append(got, fmt.Sprintf("%s %s", a.Type, a.Incident.Key))
						}
					}
					if len(got) > 0 {
						t.Fatalf("%d destination alerts while our own network was down, e.g. %v", len(got), got[:min(3, len(got))])
					}
					list := h.incidents()
					if len(list) != 1 || list[0].Kind != linkwatch.KindProberOffline || list[0].Open() {
						t.Fatalf("incidents = %d (%v), want one resolved prober_offline", len(list), keys(list))
					}
					if types := alertTypes(h.alerts()); !slices.Equal(types, []string{"incident.opened", "incident.resolved"}) {
						t.Errorf("prober alerts = %v", types)
					}
				})
			}
		}
	}
}

func keys(list []linkwatch.Incident) []string {
	var out []string
	for _, inc := range list {
		out = append(out, inc.Key)
	}
	return out
}

// TestRealOutageWithCanaryLastStillPages: holding back is not silence. A
// destination that fails while the canary answers opens its incident. With
// the canary last in the cycle it opens at its threshold (with a threshold
// of one, one interval later: the canary must answer after the failure was
// seen). With the canary answering while the failing check still waits for
// its timeout, that answer proves nothing (our network may have failed
// after it), so the incident opens one interval later still. Either way the
// timeline says when it was held.
func TestRealOutageWithCanaryLastStillPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		threshold  int
		canarySlot float64 // the failing check runs from slot 0.15 for its 5 s timeout
		extra      int     // intervals after the threshold before it opens
	}{{1, 0.999, 1}, {2, 0.999, 0}, {1, 0.2, 2}, {2, 0.2, 1}} {
		t.Run(fmt.Sprintf("threshold %d, canary at %.1f", tc.threshold, tc.canarySlot), func(t *testing.T) {
			urls, deps := fleet(20, 10)
			h := newFleetHarness(t, incidents.Config{CanaryID: canaryURL, FailureThreshold: tc.threshold}, deps)
			h.round(urls, tc.canarySlot, never, never, nil)
			down := map[string]bool{urls[3]: true}
			for range tc.threshold + tc.extra - 1 {
				h.round(urls, tc.canarySlot, never, never, down)
			}
			if n := len(h.incidents()); n != 0 {
				t.Fatalf("%d incidents before the canary answered between the first failure and a later check", n)
			}
			h.round(urls, tc.canarySlot, never, never, down)
			list := h.incidents()
			if len(list) != 1 || list[0].Key != "dest:"+urls[3] {
				t.Fatalf("incidents = %v, want the failing destination's", keys(list))
			}
			if types := alertTypes(h.alerts()); !slices.Equal(types, []string{"incident.opened"}) {
				t.Errorf("alerts = %v", types)
			}
			ev, err := h.db.IncidentEvents(context.Background(), list[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			held := len(ev) > 1 && strings.Contains(ev[1].Body, "held back")
			if held != (tc.extra > 0) {
				t.Errorf("timeline %+v: held back recorded = %v", ev, held)
			}
		})
	}
}

// TestDeadCanaryDoesNotSilenceDestinations: a canary that is itself down
// while destinations answer gets its own incident, and destination
// incidents are no longer held for it.
func TestDeadCanaryDoesNotSilenceDestinations(t *testing.T) {
	t.Parallel()
	urls, deps := fleet(20, 10)
	h := newFleetHarness(t, incidents.Config{CanaryID: canaryURL}, deps)
	down := map[string]bool{canaryURL: true}
	for range 3 {
		h.round(urls, 0.5, never, never, down)
	}
	list := h.incidents()
	if len(list) != 1 || list[0].Kind != linkwatch.KindCanary || list[0].Impact != linkwatch.ImpactMinor {
		t.Fatalf("incidents = %+v, want the canary's own, minor", list)
	}
	down[urls[5]] = true
	for range 2 {
		h.round(urls, 0.5, never, never, down)
	}
	if list := h.incidents(); len(list) != 2 || list[0].Key != "dest:"+urls[5] {
		t.Fatalf("incidents = %v, want the destination's to open while the canary is down", keys(list))
	}
	delete(down, canaryURL)
	for range 2 {
		h.round(urls, 0.5, never, never, down)
	}
	for _, inc := range h.incidents() {
		if inc.Kind == linkwatch.KindCanary && inc.Open() {
			t.Error("canary incident still open after the canary answered twice")
		}
	}
}

// TestOutageOutlastingMaintenanceAlertsOnce: silence inside the window, one
// opening alert once it ends with the outage still on, then the resolution.
func TestOutageOutlastingMaintenanceAlertsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	if _, err := h.db.CreateMaintenance(context.Background(), linkwatch.Maintenance{
		Title: "blog move", Component: "page:ada", StartsAt: t0, EndsAt: t0.Add(25 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // t0
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // t0+10: opens, muted
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // t0+20: still inside
	list := h.incidents()
	if len(list) != 1 || !list[0].AlertsSuppressed {
		t.Fatalf("incidents = %+v, want one muted", list)
	}
	if a := h.alerts(); len(a) != 0 {
		t.Fatalf("alerts inside the window: %v", alertTypes(a))
	}
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // t0+30: the window is over
	h.feed(down(blog, linkwatch.CauseHTTP5xx))
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened"}) {
		t.Fatalf("alerts after the window = %v, want one opening", got)
	}
	if inc := h.incidents()[0]; inc.AlertsSuppressed {
		t.Error("incident still marked suppressed after it alerted")
	}
	h.feed(up(blog))
	h.feed(up(blog))
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened", "incident.resolved"}) {
		t.Fatalf("alerts = %v", got)
	}
}

// TestRecurringMaintenanceMutesLikeOneOff: a daily window at 12:01 for a
// minute, made at noon. An outage before it alerts; one that starts
// inside it is muted while it lasts, and alerts once it has ended with
// the outage still on: the engine's mute step reads an occurrence as it
// reads a one-off window.
func TestRecurringMaintenanceMutesLikeOneOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	if _, err := h.db.CreateRecurringMaintenance(context.Background(), linkwatch.RecurringMaintenance{
		Title: "nightly deploy", Component: "page:ada", Schedule: "1 12 * * *", Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // 12:00:00
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // opens before the window: alerts
	h.feed(up(blog))
	h.feed(up(blog))
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened", "incident.resolved"}) {
		t.Fatalf("alerts before the window = %v", got)
	}
	h.now = t0.Add(time.Minute) // 12:01:00, the window starts
	for range 6 {               // to 12:01:50: opens, muted, inside
		h.feed(down(blog, linkwatch.CauseHTTP5xx))
	}
	if list := h.incidents(); len(list) != 2 || !list[0].AlertsSuppressed || !list[0].Open() {
		t.Fatalf("incidents = %+v, want the second open and muted", list)
	}
	if got := alertTypes(h.alerts()); len(got) != 2 {
		t.Fatalf("alerts inside the window = %v", got)
	}
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // 12:02:00: the window has ended
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened", "incident.resolved", "incident.opened"}) {
		t.Fatalf("alerts after the window = %v, want the second opening", got)
	}
}

// TestMaintenanceMutesUpdatesButNotTheResolution: an incident that alerted
// before a window gets no updates inside it, and its resolution still goes
// out so no channel is left showing an outage that ended.
func TestMaintenanceMutesUpdatesButNotTheResolution(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(down(blog, linkwatch.CauseHTTP5xx))
	h.feed(down(blog, linkwatch.CauseHTTP5xx)) // opens and alerts
	if _, err := h.db.CreateMaintenance(context.Background(), linkwatch.Maintenance{
		Title: "everything", StartsAt: h.now, EndsAt: h.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.feed(down(blog, linkwatch.CauseTimeout)) // a cause change inside the window
	h.feed(up(blog))
	h.feed(up(blog))
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened", "incident.resolved"}) {
		t.Fatalf("alerts = %v, want the opening and the resolution, no update", got)
	}
}

// failingStore fails the nth Record call (1-based), as a database that is
// locked or full for one write.
type failingStore struct {
	*sqlite.DB
	calls, failAt int
}

var errInjected = errors.New("injected: database is locked")

func (s *failingStore) Record(ctx context.Context, c incidents.Change) (linkwatch.Incident, error) {
	s.calls++
	if s.calls == s.failAt {
		return linkwatch.Incident{}, errInjected
	}
	return s.DB.Record(ctx, c)
}

// TestFailedWriteNeverSplitsMemoryFromDatabase fails each write of a
// scenario in turn (open, host join, cause change, flapping, resolve): after
// every result, the engine's open incidents are the database's, the next
// result retries, and every incident ends resolved with its alerts paired.
func TestFailedWriteNeverSplitsMemoryFromDatabase(t *testing.T) {
	t.Parallel()
	cfg := incidents.Config{FlapCount: 2, FlapStable: 4}
	scenario := func(h *harness, feed func(...step)) {
		feed(down(shopA, linkwatch.CauseConnectRefused), down(blog, linkwatch.CauseHTTP5xx))
		feed(down(shopA, linkwatch.CauseConnectRefused), down(shopB, linkwatch.CauseConnectRefused), down(blog, linkwatch.CauseHTTP5xx))
		feed(down(shopB, linkwatch.CauseConnectRefused), down(blog, linkwatch.CauseTimeout))
		feed(up(shopA), up(shopB), up(blog))
		feed(up(shopA), up(shopB), up(blog))
		feed(up(shopA), up(shopB), up(blog))
		feed(down(blog, linkwatch.CauseHTTP5xx))
		feed(down(blog, linkwatch.CauseHTTP5xx))
		feed(down(blog, linkwatch.CauseHTTP5xx))
		for range 8 {
			feed(up(shopA), up(shopB), up(blog))
		}
	}
	// The reference run counts the writes.
	ref := &failingStore{}
	{
		h := newHarness(t, cfg)
		ref.DB = h.db
		h.eng = newEngineOver(t, cfg, ref, &h.now)
		scenario(h, h.feed)
	}
	if ref.calls < 6 {
		t.Fatalf("the scenario makes only %d writes", ref.calls)
	}
	for failAt := 1; failAt <= ref.calls; failAt++ {
		t.Run(fmt.Sprintf("write %d fails", failAt), func(t *testing.T) {
			h := newHarness(t, cfg)
			store := &failingStore{DB: h.db, failAt: failAt}
			h.eng = newEngineOver(t, cfg, store, &h.now)
			injected := 0
			feed := func(steps ...step) {
				for _, s := range steps {
					r := linkwatch.Result{TargetID: s.target, Kind: s.kind, URL: s.target, Start: h.now, Status: s.status, Cause: s.cause, Summary: string(s.cause)}
					if err := h.eng.Handle(context.Background(), r); err != nil {
						if !errors.Is(err, errInjected) {
							t.Fatalf("write %d failed; a later result got %v", failAt, err)
						}
						injected++
					}
					sameAsDatabase(t, h)
				}
				h.now = h.now.Add(10 * time.Second)
			}
			scenario(h, feed)
			if injected != 1 {
				t.Fatalf("the injected failure surfaced %d times", injected)
			}
			opened, resolved := map[int64]int{}, map[int64]int{}
			for _, a := range h.alerts() {
				switch a.Type {
				case linkwatch.AlertOpened:
					opened[a.IncidentID]++
				case linkwatch.AlertResolved:
					resolved[a.IncidentID]++
				}
			}
			for _, inc := range h.incidents() {
				if inc.Open() {
					t.Errorf("incident %s still open at the end", inc.Key)
				}
				if opened[inc.ID] != 1 || resolved[inc.ID] != 1 {
					t.Errorf("incident %s: %d opening and %d resolving alerts, want 1 and 1", inc.Key, opened[inc.ID], resolved[inc.ID])
				}
			}
		})
	}
}

func newEngineOver(t *testing.T, cfg incidents.Config, store incidents.Store, now *time.Time) *incidents.Engine {
	t.Helper()
	return newEngineOverDeps(t, cfg, store, deps, now)
}

func newEngineOverDeps(t *testing.T, cfg incidents.Config, store incidents.Store, d map[string][]linkwatch.Affected, now *time.Time) *incidents.Engine {
	t.Helper()
	eng, err := incidents.NewEngine(context.Background(), cfg, store, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	incidents.SetClock(eng, func() time.Time { return *now })
	return eng
}

// sameAsDatabase fails the test when the engine's open incidents differ
// from the database's.
func sameAsDatabase(t *testing.T, h *harness) {
	t.Helper()
	db, err := h.db.OpenIncidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mem := incidents.OpenInMemory(h.eng)
	if len(db) != len(mem) {
		t.Fatalf("memory holds %d open incidents %v, the database %d %v", len(mem), mapKeys(mem), len(db), keys(db))
	}
	for _, d := range db {
		m, ok := mem[d.Key]
		if !ok || m.ID != d.ID || !slices.Equal(m.Targets, d.Targets) || m.Cause != d.Cause || m.Flapping != d.Flapping || m.Kind != d.Kind {
			t.Fatalf("incident %s: memory %+v, database %+v", d.Key, m, d)
		}
	}
}

func mapKeys(m map[string]linkwatch.Incident) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestRemovedTargetResolvesItsIncident: a link removed from the config
// while its incident is open resolves it, on reload and on restart; a host
// incident keeps going with the targets that remain.
func TestRemovedTargetResolvesItsIncident(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(down(blog, linkwatch.CauseDNS), down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
	h.feed(down(blog, linkwatch.CauseDNS), down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
	if n := len(h.incidents()); n != 2 {
		t.Fatalf("%d incidents, want the blog's and shop.example's", n)
	}
	// Reload without the blog and without shop.example/a.
	next := map[string][]linkwatch.Affected{shopB: deps[shopB]}
	h.eng.SetDependencies(next)
	h.feed(down(shopB, linkwatch.CauseHTTP5xx))
	var blogInc, hostInc linkwatch.Incident
	for _, inc := range h.incidents() {
		switch inc.Kind {
		case linkwatch.KindDestination:
			blogInc = inc
		case linkwatch.KindHost:
			hostInc = inc
		}
	}
	if blogInc.Open() {
		t.Fatal("the removed blog's incident is still open")
	}
	ev, _ := h.db.IncidentEvents(context.Background(), blogInc.ID)
	if last := ev[len(ev)-1]; last.Kind != linkwatch.EventResolved || !strings.Contains(last.Body, "target removed") {
		t.Errorf("last event = %+v", last)
	}
	if !hostInc.Open() {
		t.Fatal("the host incident resolved while shop.example/b, still configured, fails")
	}
	h.feed(up(shopB))
	h.feed(up(shopB))
	if inc, _ := h.db.Incident(context.Background(), hostInc.ID); inc.Open() {
		t.Error("host incident open after its remaining target recovered")
	}

	// On restart, too: the blog fails again, linkwatch restarts without it.
	h.eng.SetDependencies(deps)
	h.feed(down(blog, linkwatch.CauseDNS))
	h.feed(down(blog, linkwatch.CauseDNS))
	h.deps = next
	h.restart()
	h.feed(up(shopB))
	for _, inc := range h.incidents() {
		if inc.Open() {
			t.Errorf("incident %s open after a restart without its target", inc.Key)
		}
	}
}

// TestGroupedUpdatesNameEveryAddedLink: ten links of one host fail; the
// opening goes out at once, and the nine that join within the group
// interval are one update naming all of them.
func TestGroupedUpdatesNameEveryAddedLink(t *testing.T) {
	t.Parallel()
	urls, fdeps := fleet(10, 1)
	h := newFleetHarness(t, incidents.Config{GroupInterval: 30 * time.Second}, fdeps)
	down := map[string]bool{}
	for _, u := range urls {
		down[u] = true
	}
	for range 3 {
		h.round(urls, 0, never, never, down)
	}
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened"}) {
		t.Fatalf("alerts before the group interval = %v, want the opening only", got)
	}
	h.now = h.now.Add(30 * time.Second)
	if err := h.db.FanOut(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	all := h.alerts()
	if got := alertTypes(all); !slices.Equal(got, []string{"incident.opened", "incident.updated/target_added"}) {
		t.Fatalf("alerts = %v, want the opening and one grouped update", got)
	}
	if n := len(all[1].Added); n != 9 {
		t.Errorf("the grouped update names %d added links, want 9: %+v", n, all[1].Added)
	}
	if n := len(all[1].Incident.Targets); n != 10 {
		t.Errorf("the grouped update carries the incident with %d targets, want 10", n)
	}
}

// TestGroupIsReleasedBeforeTheNextAlert: a resolution inside the group
// interval does not overtake the held update.
func TestGroupIsReleasedBeforeTheNextAlert(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{GroupInterval: time.Minute})
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
	h.feed(down(shopB, linkwatch.CauseHTTP5xx), up(shopA))
	h.feed(up(shopA), up(shopB))
	h.feed(up(shopB))
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened", "incident.updated/target_added", "incident.resolved"}) {
		t.Fatalf("alerts = %v", got)
	}
}

// TestRestartKeepsTheOfflineCount: targets restored from open incidents
// count as failing destinations once their kind is known, so a restart in
// the middle of an outage does not skew prober-offline detection.
func TestRestartKeepsTheOfflineCount(t *testing.T) {
	t.Parallel()
	urls, deps := fleet(5, 5)
	h := newFleetHarness(t, incidents.Config{CanaryID: canaryURL}, deps)
	down := map[string]bool{urls[0]: true, urls[1]: true}
	for range 3 {
		h.round(urls, 0.5, never, never, down)
	}
	if n := len(h.incidents()); n != 2 {
		t.Fatalf("%d incidents %v, want 2", n, keys(h.incidents()))
	}
	h.restart()
	for range 3 {
		h.round(urls, 0.5, never, never, nil) // both recover
	}
	downAt := h.now
	for range 4 {
		h.round(urls, 0.5, downAt, never, nil) // then our network fails
	}
	var offline bool
	for _, inc := range h.incidents() {
		offline = offline || (inc.Kind == linkwatch.KindProberOffline && inc.Open())
	}
	if !offline {
		t.Fatalf("no prober_offline after a restart: %v", keys(h.incidents()))
	}
}

// TestReloadUpdatesAnOpenIncidentsLinks: a link added by a reload to a
// destination that is already failing is affected by its open incident at
// once (and a link removed is not any more), with no new alert.
func TestReloadUpdatesAnOpenIncidentsLinks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.feed(down(blog, linkwatch.CauseDNS))
	h.feed(down(blog, linkwatch.CauseDNS))
	next := map[string][]linkwatch.Affected{}
	for k, v := range deps {
		next[k] = v
	}
	next[blog] = []linkwatch.Affected{{Page: "acme", Link: "news", URL: blog}}
	h.eng.SetDependencies(next)
	h.feed(down(blog, linkwatch.CauseDNS))
	inc := h.incidents()[0]
	if !inc.Open() || len(inc.Affected) != 1 || inc.Affected[0].Page != "acme" || inc.Affected[0].Link != "news" {
		t.Fatalf("affected after the reload = %+v", inc.Affected)
	}
	if got := alertTypes(h.alerts()); !slices.Equal(got, []string{"incident.opened"}) {
		t.Errorf("alerts = %v, want no alert for a reload", got)
	}
	if mem := incidents.OpenInMemory(h.eng)[inc.Key]; len(mem.Affected) != 1 || mem.Affected[0].Link != "news" {
		t.Errorf("memory holds %+v", mem.Affected)
	}
}

// TestGroupIntervalZeroIsOff: alerts.group_interval: 0 reaches the engine
// as 0, and 0 is no grouping (it was the engine's own 30 s default): each
// update is an alert of its own, at once.
func TestGroupIntervalZeroIsOff(t *testing.T) {
	t.Parallel()
	const shopC = "https://shop.example/c"
	for _, tt := range []struct {
		group time.Duration
		want  []string
	}{
		{0, []string{"incident.opened", "incident.updated/target_added", "incident.updated/target_added", "incident.resolved"}},
		{30 * time.Second, []string{"incident.opened", "incident.updated/target_added", "incident.resolved"}},
	} {
		h := newHarness(t, incidents.Config{GroupInterval: tt.group})
		h.feed(down(shopA, linkwatch.CauseHTTP5xx))
		h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
		h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx))
		h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx), down(shopC, linkwatch.CauseHTTP5xx))
		h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(shopB, linkwatch.CauseHTTP5xx), down(shopC, linkwatch.CauseHTTP5xx))
		h.feed(up(shopA), up(shopB), up(shopC))
		h.feed(up(shopA), up(shopB), up(shopC))
		if got := alertTypes(h.alerts()); !slices.Equal(got, tt.want) {
			t.Errorf("group interval %s: alerts = %v, want %v", tt.group, got, tt.want)
		}
	}
}
