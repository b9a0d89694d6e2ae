package statuspage_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/statuspage"
	"linkwatch/storage/sqlite/sqlitetest"
)

// proberOffline is a status page over a store where linkwatch's prober has
// been offline for the last 29 minutes (an open prober_offline incident)
// and was offline yesterday from 10:01 to 13:00; every check of those
// spans failed on DNS in 3 s, the prober's network, not the link's. With
// history, the two days before answered in 20 ms; without, nothing ever
// answered (a fresh laptop with no internet).
func proberOffline(t *testing.T, history bool) (*httptest.Server, time.Time) {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	yesterday := now.Add(-24 * time.Hour).Truncate(24 * time.Hour)
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	offline := []linkwatch.Span{{From: yesterday.Add(10 * time.Hour), To: yesterday.Add(13 * time.Hour)}, {From: now.Add(-30 * time.Minute), To: now}}
	var batch []linkwatch.Result
	for at := now.Add(-48 * time.Hour); at.Before(now); at = at.Add(time.Minute) {
		r := linkwatch.Result{TargetID: shopURL, Kind: linkwatch.TargetDestination, URL: shopURL, Start: at, Latency: 20 * time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200}
		inSpan := false
		for _, s := range offline {
			inSpan = inSpan || (!at.Before(s.From) && at.Before(s.To))
		}
		if !history || inSpan {
			r.Status, r.Cause, r.Latency, r.StatusCode, r.Summary = linkwatch.StatusDown, linkwatch.CauseDNS, 3*time.Second, 0, "lookup shop.example: no such host"
		}
		if history || inSpan {
			batch = append(batch, r)
		}
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	own := []linkwatch.Incident{
		{Key: "prober", Kind: linkwatch.KindProberOffline, Title: "Prober offline: destination alerts held back", Cause: linkwatch.CauseProberOffline,
			Summary: "the canary and 1 of 1 destinations fail at once", Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor,
			Targets: []string{"canary:https://canary.example/"}, StartedAt: yesterday.Add(10*time.Hour + time.Minute), UpdatedAt: yesterday.Add(13 * time.Hour),
			ResolvedAt: yesterday.Add(13 * time.Hour)},
		{Key: "canary", Kind: linkwatch.KindCanary, Title: "Canary unreachable: prober-offline detection is off", Cause: linkwatch.CauseTimeout,
			Summary: "the canary fails (timeout) while destinations answer", Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMinor,
			Targets: []string{"canary:https://canary.example/"}, StartedAt: yesterday.Add(2 * time.Hour), UpdatedAt: yesterday.Add(3 * time.Hour),
			ResolvedAt: yesterday.Add(3 * time.Hour)},
		{Key: "prober", Kind: linkwatch.KindProberOffline, Title: "Prober offline: destination alerts held back", Cause: linkwatch.CauseProberOffline,
			Summary: "the canary and 1 of 1 destinations fail at once", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor,
			Targets: []string{"canary:https://canary.example/"}, StartedAt: now.Add(-29 * time.Minute), UpdatedAt: now},
	}
	for _, inc := range own {
		if _, err := db.Record(ctx, incidents.Change{Incident: inc}); err != nil {
			t.Fatal(err)
		}
	}
	sp := statuspage.New(newSource(db), statuspage.Options{Name: "Acme status", URL: "https://links.example", Interval: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, yesterday
}

// stateLabels are the component states a status page shows.
var stateLabels = regexp.MustCompile(`<span class="state state-([a-z_]+)">([^<]*)</span>`)

// TestProberOfflineIsUnknownNotAnOutage: while linkwatch's own prober is
// offline, the status page says so in a neutral banner and shows the
// links' last known states; its prober_offline and canary incidents are
// linkwatch's own, in no public list (HTML, JSON, feeds); the checks made
// while it was offline count neither for nor against uptime and latency;
// and no component reads "Operational" over an uptime it did not measure.
func TestProberOfflineIsUnknownNotAnOutage(t *testing.T) {
	t.Parallel()
	for _, history := range []bool{true, false} {
		name := "with history"
		if !history {
			name = "never checked"
		}
		t.Run(name, func(t *testing.T) {
			srv, yesterday := proberOffline(t, history)

			_, body := get(t, srv.URL+"/api/v2/summary.json")
			var m struct {
				Status     struct{ Indicator, Description string }
				Components []struct {
					Name, Status string
					ResponseTime *struct {
						Responses int64
						P50MS     *int64 `json:"p50_ms"`
						P95MS     *int64 `json:"p95_ms"`
					} `json:"response_time"`
				}
				Incidents []struct{ Name string }
			}
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			// The JSON has no "unknown": components keep their last known
			// status, the indicator reflects the incidents known (none), the
			// description says what is going on.
			if m.Status.Indicator != "none" || m.Status.Description != "Status Unknown: Monitoring Offline" {
				t.Errorf("status = %+v, want indicator none, Status Unknown: Monitoring Offline", m.Status)
			}
			for _, c := range m.Components {
				if c.Status != "operational" {
					t.Errorf("component %s is %s while only the prober is offline", c.Name, c.Status)
				}
				if c.Name != shopURL {
					continue
				}
				switch rt := c.ResponseTime; {
				case rt == nil:
					t.Errorf("%s has no response_time", c.Name)
				case history && (rt.Responses == 0 || rt.P95MS == nil || *rt.P95MS != 20):
					t.Errorf("%s response_time = %+v, want the 20 ms answers only", c.Name, *rt)
				case !history && (rt.Responses != 0 || rt.P50MS != nil || rt.P95MS != nil):
					t.Errorf("%s response_time = %+v, want no data (null) without an answer", c.Name, *rt)
				}
			}
			if len(m.Incidents) != 0 {
				t.Errorf("summary lists %+v: linkwatch's own incidents are not public", m.Incidents)
			}
			_, body = get(t, srv.URL+"/api/v2/incidents.json")
			if strings.Contains(string(body), "Prober offline") || strings.Contains(string(body), "Canary") {
				t.Errorf("incidents.json lists linkwatch's own incidents: %s", body)
			}
			for _, path := range []string{"/status/feed.atom", "/status/feed.rss"} {
				if _, f := parseFeed(t, srv.URL+path); len(f.Items) != 0 {
					t.Errorf("%s has %d entries, want none (linkwatch's own incidents are not public)", path, len(f.Items))
				}
			}

			for _, path := range []string{"/status", "/status/acme"} {
				_, body := get(t, srv.URL+path)
				html := string(body)
				for _, want := range []string{`class="banner banner-unknown"`, "linkwatch cannot check right now",
					"Its own network or canary is failing; the links&#39; last known states are shown."} {
					if !strings.Contains(html, want) {
						t.Errorf("%s lacks %q", path, want)
					}
				}
				for _, not := range []string{"Prober offline", "Canary unreachable", "incident-ongoing", "Monitoring Degraded", "banner-ok", "All Systems Operational"} {
					if strings.Contains(html, not) {
						t.Errorf("%s shows %q", path, not)
					}
				}
				states := stateLabels.FindAllStringSubmatch(html, -1)
				if len(states) == 0 {
					t.Fatalf("%s shows no component state", path)
				}
				for _, st := range states {
					want := "No data"
					if history {
						want = "Last known: operational"
					}
					if st[1] != "unknown" || (st[2] != want && st[2] != "No data") {
						t.Errorf("%s: a state reads %q (%s), want %q in a neutral tone", path, st[2], st[1], want)
					}
				}
				// Uptime counts the known checks only: every one answered, or
				// there is none.
				uptime := "100.00% uptime"
				if !history {
					uptime = "no data yet"
				}
				if !strings.Contains(html, "<span>"+uptime+"</span>") || strings.Contains(html, ">0.00% uptime<") {
					t.Errorf("%s: uptime is not %q", path, uptime)
				}
				day := yesterday.Format("Mon 2 Jan 2006")
				bar := day + ": no downtime; linkwatch could not check for 3 hours"
				if !history {
					bar = day + ": no data; linkwatch could not check for 3 hours"
				}
				if !strings.Contains(html, bar) {
					t.Errorf("%s: yesterday's bar does not read %q", path, bar)
				}
			}
			_, body = get(t, srv.URL+"/status/acme")
			latency := `24 hours: median 20 ms, p95 20 ms`
			if !history {
				latency = `24 hours: no data`
			}
			if !strings.Contains(string(body), latency) {
				t.Errorf("/status/acme: the shop's response time is not %s", latency)
			}
			_, badge := get(t, srv.URL+"/badge/acme.svg")
			if !strings.Contains(string(badge), "#6e7781") || strings.Contains(string(badge), ">operational<") {
				t.Errorf("the page's badge is not grey or reads operational: %s", badge)
			}
			_, badge = get(t, srv.URL+"/badge/acme/shop.svg?metric=p95")
			want := ">20 ms<"
			if !history {
				want = ">no data<"
			}
			if !strings.Contains(string(badge), want) {
				t.Errorf("the shop's latency badge lacks %s: %s", want, badge)
			}
		})
	}
}

// TestProberOfflineSinceBeforeTheHistory: linkwatch's prober has been
// offline since before the 90 days the page shows (its prober_offline
// incident, still open, started 100 days ago), and every check since
// failed on DNS. Those checks are unknown like any made while it is
// offline: no uptime, no downtime, no response time.
func TestProberOfflineSinceBeforeTheHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	var batch []linkwatch.Result
	for at := now.Add(-48 * time.Hour); at.Before(now); at = at.Add(time.Minute) {
		batch = append(batch, linkwatch.Result{TargetID: shopURL, Kind: linkwatch.TargetDestination, URL: shopURL, Start: at, Latency: 3 * time.Second,
			Status: linkwatch.StatusDown, Cause: linkwatch.CauseDNS, Summary: "lookup shop.example: no such host"})
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "prober", Kind: linkwatch.KindProberOffline,
		Title: "Prober offline: destination alerts held back", Cause: linkwatch.CauseProberOffline, Summary: "the canary and 1 of 1 destinations fail at once",
		Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Targets: []string{"canary:https://canary.example/"},
		StartedAt: now.Add(-100 * 24 * time.Hour), UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	sp := statuspage.New(newSource(db), statuspage.Options{Name: "Acme status", URL: "https://links.example", Interval: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	_, body := get(t, srv.URL+"/status/acme")
	html := string(body)
	for _, want := range []string{"linkwatch cannot check right now", "<span>no data yet</span>", `24 hours: no data`} {
		if !strings.Contains(html, want) {
			t.Errorf("/status/acme lacks %q", want)
		}
	}
	for _, not := range []string{"% uptime", "min of downtime", `<li class="major">`} {
		if strings.Contains(html, not) {
			t.Errorf("/status/acme shows %q over checks it made while offline", not)
		}
	}
	_, badge := get(t, srv.URL+"/badge/acme/shop.svg?uptime=30d")
	if !strings.Contains(string(badge), ">no data<") {
		t.Errorf("the shop's 30-day uptime badge is not no data: %s", badge)
	}
}
