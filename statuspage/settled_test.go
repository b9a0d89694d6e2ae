package statuspage_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
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

// windowsRead is a store that records where its latency and daily reads
// begin.
type windowsRead struct {
	storage.Store
	mu   sync.Mutex
	from [][2]time.Time // the latency reads' windows
	days [][2]time.Time // the daily reads'
}

func (w *windowsRead) DailyStats(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) ([]storage.DayStat, error) {
	w.mu.Lock()
	w.days = append(w.days, [2]time.Time{from, to})
	w.mu.Unlock()
	return w.Store.DailyStats(ctx, from, to, unknown)
}

func (w *windowsRead) LatencySeries(ctx context.Context, keys []string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string][]storage.Rollup, error) {
	w.mu.Lock()
	w.from = append(w.from, [2]time.Time{from, to})
	w.mu.Unlock()
	return w.Store.LatencySeries(ctx, keys, from, to, step, unknown)
}

// take returns the windows of the latency and the daily reads since the
// last call.
func (w *windowsRead) take() (from, days [][2]time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	from, days = w.from, w.days
	w.from, w.days = nil, nil
	return from, days
}

// TestSettledHoursServeWhatTheStoreHolds: a status page whose source keeps
// the settled hours shows what one that reads every hour every time shows
// (the page, the index, a link's chart, the API), step by step across
// what changes the hours and days: the hour under way filling and then
// rolled up, a link added by a reload, an unknown span (the prober
// offline) in a settled hour that a late check then lands in, a day
// settling, with a late check in its last hour, and a retention prune
// inside the 24 hours. Each
// step changes what the reference shows, so a kept hour or day served stale
// fails it; between changes, a rebuild reads only the hour and the day
// under way.
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
	checks(now.Add(-50*time.Hour), now, 0, links[0].URL, links[1].URL, links[2].URL)
	// a's peak, a slow check, and c's one failure: an unknown span will
	// hide both.
	must(db.SaveResults(ctx, []linkwatch.Result{{TargetID: links[0].URL, Kind: linkwatch.TargetDestination, URL: links[0].URL,
		Start: time.Date(2026, 11, 21, 20, 15, 0, 0, time.UTC), Latency: 8 * time.Second, Status: linkwatch.StatusUp},
		{TargetID: links[2].URL, Kind: linkwatch.TargetDestination, URL: links[2].URL,
			Start: time.Date(2026, 11, 21, 20, 25, 0, 0, time.UTC), Latency: time.Second, Status: linkwatch.StatusDown}}))
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
	// hour under way (the latency) and the day under way (the bars), or at
	// the oldest hour rollup kept and its day, which a prune in progress
	// may be cutting, or in also (days an unknown span touches).
	onlyUnderWay := func(step string, also ...[2]time.Time) {
		t.Helper()
		hour, day := clock().Truncate(time.Hour), clock().Truncate(24*time.Hour)
		oldest, _, err := db.SettledHours(ctx)
		must(err)
		from, days := reads.take()
		if len(from) == 0 || len(days) == 0 {
			t.Fatalf("%s: %d latency reads, %d daily reads", step, len(from), len(days))
		}
		for _, w := range from {
			if !w[0].Equal(hour) && (!w[0].Equal(oldest) || !w[1].Equal(oldest.Add(time.Hour))) {
				t.Errorf("%s: a rebuild read the latency of [%s, %s), not only the hour under way (%s)", step, w[0].Format(time.DateTime), w[1].Format(time.DateTime), hour.Format(time.DateTime))
			}
		}
		for _, w := range days {
			if d := oldest.Truncate(24 * time.Hour); !w[0].Equal(day) && (!w[0].Equal(d) || !w[1].Equal(d.Add(24*time.Hour))) && !slices.Contains(also, w) {
				t.Errorf("%s: a rebuild read the daily stats of [%s, %s), not only the day under way (%s)", step, w[0].Format(time.DateTime), w[1].Format(time.DateTime), day.Format(time.DateTime))
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

	// The prober was offline from 20:10 to 20:30 yesterday: that hour is
	// read from its known minutes, and so is its day; a check that
	// finished late lands in them.
	_, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "prober", Kind: linkwatch.KindProberOffline,
		Title: "Prober offline", Cause: linkwatch.CauseProberOffline, Summary: "the canary fails", Status: linkwatch.StatusResolved,
		Impact: linkwatch.ImpactMajor, Targets: []string{"canary:https://canary.example/"},
		StartedAt: time.Date(2026, 11, 21, 20, 10, 0, 0, time.UTC), UpdatedAt: clock(), ResolvedAt: time.Date(2026, 11, 21, 20, 30, 0, 0, time.UTC)}})
	must(err)
	same("after the prober was offline in a settled hour", "/status/acme", "/status", "/chart/acme/a.svg")
	must(db.SaveResults(ctx, []linkwatch.Result{{TargetID: links[0].URL, Kind: linkwatch.TargetDestination, URL: links[0].URL,
		Start: time.Date(2026, 11, 21, 20, 50, 0, 0, time.UTC), Latency: 9 * time.Second, Status: linkwatch.StatusUp}}))
	same("after a late check in that hour", "/chart/acme/a.svg")

	// Just past midnight, 23:00 is not rolled up yet: the 22nd is read
	// from its hours and 23:00's minutes, where a late check still lands.
	set(time.Date(2026, 11, 23, 0, 1, 0, 0, time.UTC))
	checks(time.Date(2026, 11, 22, 15, 10, 0, 0, time.UTC), clock(), 0, links[0].URL, links[1].URL, links[2].URL, added.URL)
	must(db.RollUp(ctx))
	same("at 00:01", "/status/acme")
	must(db.SaveResults(ctx, []linkwatch.Result{{TargetID: links[1].URL, Kind: linkwatch.TargetDestination, URL: links[1].URL,
		Start: time.Date(2026, 11, 22, 23, 57, 0, 0, time.UTC), Latency: time.Second, Status: linkwatch.StatusDown}}))
	same("after a late check at 23:57", "/status/acme")

	// A day later, every hour of the window has been rolled up since.
	set(time.Date(2026, 11, 23, 15, 30, 0, 0, time.UTC))
	checks(time.Date(2026, 11, 23, 0, 10, 0, 0, time.UTC), clock(), 0, links[0].URL, links[1].URL, links[2].URL, added.URL)
	must(db.RollUp(ctx))
	same(fmt.Sprintf("at %s", clock().Format(time.DateTime)), "/status/acme", "/chart/acme/a.svg")
	reads.take()
	same("a day later, again")
	onlyUnderWay("a day later, again", [2]time.Time{time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)})

	// Retention keeps hour rollups a day: the 21st and the 22nd go, though
	// the chart's 24 hours reach back into the 22nd, but for the hour the
	// prober was offline in, read from its minutes.
	_, err = db.Prune(ctx, storage.Retention{Raw: 48 * time.Hour, Minute: 7 * 24 * time.Hour, Hour: time.Hour})
	must(err)
	same("after a prune", "/status/acme", "/chart/acme/a.svg")

	// A failed check that finished late lands in the hour the prober was
	// offline in, pruned but for its minutes.
	must(db.SaveResults(ctx, []linkwatch.Result{{TargetID: links[1].URL, Kind: linkwatch.TargetDestination, URL: links[1].URL,
		Start: time.Date(2026, 11, 21, 20, 55, 0, 0, time.UTC), Latency: time.Second, Status: linkwatch.StatusDown}}))
	same("after a late failed check on the 21st", "/status/acme")
}
