package statuspage_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/statuspage"
	"linkwatch/statuspage/storesource"
	"linkwatch/storage"
	"linkwatch/storage/sqlite/sqlitetest"
)

// windowsRead is a store that records the windows of its latency reads.
type windowsRead struct {
	storage.Store
	mu   sync.Mutex
	from []time.Time
}

func (w *windowsRead) LatencySeries(ctx context.Context, keys []string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string][]storage.Rollup, error) {
	w.mu.Lock()
	w.from = append(w.from, from)
	w.mu.Unlock()
	return w.Store.LatencySeries(ctx, keys, from, to, step, unknown)
}

// take returns the starts of the windows read since the last call.
func (w *windowsRead) take() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.from
	w.from = nil
	return out
}

// TestSettledHoursServeWhatTheStoreHolds: a status page whose source keeps
// the settled hours shows what one that reads every hour every time shows
// (the page, the index, a link's chart, the API), step by step across
// what changes the hours: the hour under way filling and then rolled up,
// a link added by a reload, a retention prune inside the 24 hours, and an
// unknown span (the prober offline) in a settled hour that a late check
// then lands in. Each step changes what the reference shows, so a kept
// hour served stale fails it; between changes, a rebuild reads only the
// hour under way.
func TestSettledHoursServeWhatTheStoreHolds(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	var mu sync.Mutex
	now := time.Date(2026, 11, 22, 14, 20, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	db.SetClock(clock)

	links := []hub.LinkSpec{{Slug: "a", URL: "https://one.example/a"}, {Slug: "b", URL: "https://one.example/b"}, {Slug: "c", URL: "https://two.example/c"}}
	var catMu sync.Mutex
	catalog := func(links []hub.LinkSpec) *hub.Catalog {
		cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: links}}, hub.NewCounter(nil))
		if err != nil {
			t.Fatal(err)
		}
		return cat
	}
	cat := catalog(links)
	current := func() *hub.Catalog { catMu.Lock(); defer catMu.Unlock(); return cat }
	// checks saves a check of each URL every 10 minutes over [from, to),
	// slower the later the hour and the further down the list.
	checks := func(from, to time.Time, extra time.Duration, urls ...string) {
		t.Helper()
		var batch []linkwatch.Result
		for at := from; at.Before(to); at = at.Add(10 * time.Minute) {
			for i, u := range urls {
				lat := time.Duration(20+(at.Hour()*37+i*53)%400)*time.Millisecond + extra
				batch = append(batch, linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: at, Latency: lat, Status: linkwatch.StatusUp})
			}
		}
		if err := db.SaveResults(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	checks(now.Add(-30*time.Hour), now, 0, links[0].URL, links[1].URL, links[2].URL)
	// a's peak: a slow check at 10:25, which an unknown span will hide.
	must(db.SaveResults(ctx, []linkwatch.Result{{TargetID: links[0].URL, Kind: linkwatch.TargetDestination, URL: links[0].URL,
		Start: time.Date(2026, 11, 22, 10, 25, 0, 0, time.UTC), Latency: 8 * time.Second, Status: linkwatch.StatusUp}}))
	must(db.RollUp(ctx))

	reads := &windowsRead{Store: db}
	server := func(src statuspage.Source) *mux.Router {
		sp := statuspage.New(src, statuspage.Options{Name: "Acme status", Interval: time.Minute, CacheFor: time.Nanosecond,
			Catalog: current, Log: slog.New(slog.DiscardHandler), Now: clock})
		r := mux.NewRouter()
		sp.Register(r)
		return r
	}
	kept, plain := server(storesource.New(reads)), server(storesource.Source{Store: db})
	paths := []string{"/status/acme", "/status", "/chart/acme/a.svg", "/status/acme/api/v2/summary.json"}
	last := map[string]string{}
	// same checks that both pages show the same at each path; changed
	// names the paths whose page must differ from the step before.
	same := func(step string, changed ...string) {
		t.Helper()
		set(clock().Add(time.Second)) // past the snapshot's CacheFor
		for _, p := range paths {
			get := func(r *mux.Router) string {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
				if w.Code != 200 {
					t.Fatalf("%s: GET %s: %d", step, p, w.Code)
				}
				return w.Body.String()
			}
			want, got := get(plain), get(kept)
			if got != want {
				t.Errorf("%s: GET %s differs with the settled hours kept:\n%s\nwant:\n%s", step, p, got, want)
			}
			for _, c := range changed {
				if c == p && want == last[p] {
					t.Fatalf("%s: GET %s shows what it showed before: the step tests nothing", step, p)
				}
			}
			last[p] = want
		}
	}
	// onlyUnderWay checks that the reads since the last call began at the
	// hour under way.
	onlyUnderWay := func(step string) {
		t.Helper()
		hour := clock().Truncate(time.Hour)
		for _, from := range reads.take() {
			if !from.Equal(hour) {
				t.Errorf("%s: a rebuild read the latency from %s, not only the hour under way (%s)", step, from.Format(time.DateTime), hour.Format(time.DateTime))
			}
		}
	}

	same("at 14:20")
	reads.take()
	same("again")
	onlyUnderWay("again")

	// The hour under way fills, slower: its point moves, and the hours
	// settled before stay as kept.
	set(time.Date(2026, 11, 22, 14, 55, 0, 0, time.UTC))
	checks(time.Date(2026, 11, 22, 14, 20, 0, 0, time.UTC), clock(), 4*time.Second, links[0].URL, links[1].URL, links[2].URL)
	same("at 14:55", "/status/acme", "/chart/acme/a.svg")
	onlyUnderWay("at 14:55")

	// 14:00 has ended, but is not rolled up yet (RollupSettle): it is
	// read from its minutes, where a check that finished late still lands.
	set(time.Date(2026, 11, 22, 15, 1, 0, 0, time.UTC))
	must(db.RollUp(ctx))
	same("at 15:01")
	must(db.SaveResults(ctx, []linkwatch.Result{{TargetID: links[0].URL, Kind: linkwatch.TargetDestination, URL: links[0].URL,
		Start: time.Date(2026, 11, 22, 14, 58, 0, 0, time.UTC), Latency: 6 * time.Second, Status: linkwatch.StatusUp}}))
	same("after a late check at 14:58", "/chart/acme/a.svg")

	// 14:00 is rolled up: its point is read once more, from its rollup.
	set(time.Date(2026, 11, 22, 15, 5, 0, 0, time.UTC))
	must(db.RollUp(ctx))
	checks(time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC), clock(), 0, links[0].URL, links[1].URL, links[2].URL)
	same("after 14:00 is rolled up", "/status/acme")
	reads.take()
	same("after 14:00 is rolled up, again")
	onlyUnderWay("after 14:00 is rolled up, again")

	// A reload adds a link with a day of history: its hours are read.
	added := hub.LinkSpec{Slug: "d", URL: "https://three.example/d"}
	checks(clock().Add(-26*time.Hour).Truncate(time.Hour), clock().Truncate(time.Hour), 0, added.URL)
	must(db.RollUp(ctx)) // nothing new settled: 15:00 is under way
	catMu.Lock()
	cat = catalog(append(links[:3:3], added))
	catMu.Unlock()
	same("after a reload adds a link", "/status/acme", "/status")
	reads.take()
	same("after a reload adds a link, again")
	onlyUnderWay("after a reload adds a link, again")

	// Retention keeps hour rollups a day: yesterday's go, though the
	// chart's 24 hours reach back into it.
	_, err := db.Prune(ctx, storage.Retention{Raw: 48 * time.Hour, Minute: 7 * 24 * time.Hour, Hour: time.Hour})
	must(err)
	same("after a prune", "/status/acme", "/chart/acme/a.svg")

	// The prober was offline from 10:20 to 10:40: that hour is read from
	// its known minutes, and a check that finished late lands in them.
	_, err = db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "prober", Kind: linkwatch.KindProberOffline,
		Title: "Prober offline", Cause: linkwatch.CauseProberOffline, Summary: "the canary fails", Status: linkwatch.StatusResolved,
		Impact: linkwatch.ImpactMajor, Targets: []string{"canary:https://canary.example/"},
		StartedAt: time.Date(2026, 11, 22, 10, 20, 0, 0, time.UTC), UpdatedAt: clock(), ResolvedAt: time.Date(2026, 11, 22, 10, 40, 0, 0, time.UTC)}})
	must(err)
	same("after the prober was offline in a settled hour", "/status/acme", "/chart/acme/a.svg")
	must(db.SaveResults(ctx, []linkwatch.Result{{TargetID: links[0].URL, Kind: linkwatch.TargetDestination, URL: links[0].URL,
		Start: time.Date(2026, 11, 22, 10, 50, 0, 0, time.UTC), Latency: 9 * time.Second, Status: linkwatch.StatusUp}}))
	same("after a late check in that hour", "/chart/acme/a.svg")

	// A day later, every hour of the window has been rolled up since.
	set(time.Date(2026, 11, 23, 15, 30, 0, 0, time.UTC))
	checks(time.Date(2026, 11, 22, 15, 10, 0, 0, time.UTC), clock(), 0, links[0].URL, links[1].URL, links[2].URL, added.URL)
	must(db.RollUp(ctx))
	same(fmt.Sprintf("at %s", clock().Format(time.DateTime)), "/status/acme", "/chart/acme/a.svg")
	reads.take()
	same("a day later, again")
	onlyUnderWay("a day later, again")
}
