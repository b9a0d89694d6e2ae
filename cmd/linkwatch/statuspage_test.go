package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"

	"github.com/mmcdole/gofeed"

	"linkwatch/internal/refused"
	"linkwatch/storage/sqlite"
)

// closedURL is an http URL on a loopback port nothing listens on: every
// check of it is refused at once, without leaving the machine.
func closedURL(t *testing.T, path string) string {
	t.Helper()
	return "http://" + refused.Addr(t) + path
}

// parseFeed reads a feed through serve with gofeed, as feed readers do.
func parseFeed(t *testing.T, url string) *gofeed.Feed {
	t.Helper()
	resp, body := get(t, "GET", url)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	f, err := gofeed.NewParser().ParseString(body)
	if err != nil {
		t.Fatalf("%s does not parse: %v", url, err)
	}
	return f
}

// stateLabels are the component states a status page shows.
var stateLabels = regexp.MustCompile(`<span class="state state-([a-z_]+)">([^<]*)</span>`)

// TestServeLinkFailingOnDNSHasNoResponseTime goes through serve: a link
// whose every check failed on DNS (in 10 to 44 ms, as the store holds
// them) and since is refused shows no response time, "no data" in grey,
// on its page's status, in its latency badge and in the JSON.
func TestServeLinkFailingOnDNSHasNoResponseTime(t *testing.T) {
	t.Parallel()
	gone := closedURL(t, "/gone")
	dbPath := filepath.Join(t.TempDir(), "lw.db")
	db, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var batch []linkwatch.Result
	for i := range 6 * 60 {
		batch = append(batch, linkwatch.Result{TargetID: gone, Kind: linkwatch.TargetDestination, URL: gone, Start: now.Add(-6*time.Hour + time.Duration(i)*time.Minute),
			Latency: time.Duration(10+i%35) * time.Millisecond, Status: linkwatch.StatusDown, Cause: linkwatch.CauseDNS, Summary: "lookup gone.example: no such host"})
	}
	if err := db.SaveResults(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	db.Close()
	app := startApp(t, `
storage: {path: "`+dbPath+`"}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false}
pages:
  - slug: ada
    links:
      - {slug: gone, url: "`+gone+`"}
`, nil)

	_, page := get(t, "GET", app.URL+"/status/ada")
	if !strings.Contains(page, `24 hours: no data (no check got a response)`) || strings.Contains(page, "median") {
		t.Errorf("/status/ada shows a response time for a link that never answered:\n%s", page)
	}
	for _, metric := range []string{"p50", "p95"} {
		resp, badge := get(t, "GET", app.URL+"/badge/ada/gone.svg?metric="+metric)
		if resp.StatusCode != 200 || !strings.Contains(badge, ">no data<") || !strings.Contains(badge, `fill="#6e7781"`) || strings.Contains(badge, " ms<") {
			t.Errorf("%s badge: %d, want a grey no data:\n%s", metric, resp.StatusCode, badge)
		}
	}
	_, summary := get(t, "GET", app.URL+"/status/ada/api/v2/summary.json")
	if !strings.Contains(summary, `"response_time":{"window":"24h","responses":0,"p50_ms":null,"p95_ms":null}`) {
		t.Errorf("summary.json: the destination's response time is not null (no data):\n%s", summary)
	}
}

// TestServeProberOfflineOnAFreshMachine goes through serve as on a laptop
// without internet: the canary and every destination fail from the first
// check. Once the prober_offline incident opens, /status says linkwatch
// cannot check, in a neutral banner, lists no incident (the prober's is
// linkwatch's own: not in the JSON, not in the feeds), and no component
// reads "Operational" over an uptime it never measured.
func TestServeProberOfflineOnAFreshMachine(t *testing.T) {
	t.Parallel()
	app := startApp(t, `
storage: {path: DBPATH}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false, canary: "`+closedURL(t, "/")+`"}
pages:
  - slug: ada
    links:
      - {slug: a, url: "`+closedURL(t, "/a")+`"}
      - {slug: b, url: "`+closedURL(t, "/b")+`"}
`, nil)
	db, err := sqlite.Open(context.Background(), app.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitUntil(t, 20*time.Second, "the prober_offline incident", func() bool {
		open, err := db.OpenIncidents(context.Background())
		return err == nil && slices.ContainsFunc(open, func(inc linkwatch.Incident) bool { return inc.Kind == linkwatch.KindProberOffline })
	})

	for _, path := range []string{"/status", "/status/ada"} {
		_, page := get(t, "GET", app.URL+path)
		for _, want := range []string{`class="banner banner-unknown"`, "linkwatch cannot check right now",
			"Its own network or canary is failing; the links&#39; last known states are shown."} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		for _, not := range []string{"Prober offline", "incident-ongoing", "banner-ok", "Monitoring Degraded", ">0.00% uptime<"} {
			if strings.Contains(page, not) {
				t.Errorf("%s shows %q", path, not)
			}
		}
		for _, st := range stateLabels.FindAllStringSubmatch(page, -1) {
			if st[1] != "unknown" || st[2] != "No data" {
				t.Errorf("%s: a component reads %q (%s), want No data in a neutral tone", path, st[2], st[1])
			}
		}
	}
	_, summary := get(t, "GET", app.URL+"/api/v2/summary.json")
	var m struct {
		Status     struct{ Indicator, Description string }
		Components []struct{ Name, Status string }
		Incidents  []json.RawMessage
	}
	if err := json.Unmarshal([]byte(summary), &m); err != nil {
		t.Fatal(err)
	}
	if m.Status.Indicator != "none" || m.Status.Description != "Status Unknown: Monitoring Offline" || len(m.Incidents) != 0 {
		t.Errorf("summary.json: status %+v and %d incidents; want none, Status Unknown: Monitoring Offline, no incident", m.Status, len(m.Incidents))
	}
	for _, c := range m.Components {
		if c.Status != "operational" {
			t.Errorf("summary.json: %s is %s; the links are not known to be down", c.Name, c.Status)
		}
	}
	for _, path := range []string{"/status/feed.atom", "/status/feed.rss", "/history.atom"} {
		if f := parseFeed(t, app.URL+path); len(f.Items) != 0 {
			t.Errorf("%s lists %d entries, want none: %s", path, len(f.Items), f.Items[0].Title)
		}
	}
}

// TestServeMaintenanceIsUnderMaintenance goes through serve and its admin
// API: the shop fails inside a maintenance window on it, and its incident
// opens. The shop, its host and its page read "Under maintenance" on
// /status, under_maintenance in summary.json, whose indicator is
// "maintenance"; the banner says so; the feeds carry the window, each
// RSS item with an author; a scheduled window beside it is a landmark of
// its own; and the status of an unknown page is a real 404 page.
func TestServeMaintenanceIsUnderMaintenance(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "moving", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(shop.Close)
	shopURL := shop.URL + "/shop"
	app := startApp(t, `
server: {admin_token: "`+trustToken+`"}
storage: {path: DBPATH}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false}
pages:
  - slug: acme
    title: Acme
    links:
      - {slug: shop, url: "`+shopURL+`"}
`, nil)
	now := time.Now().UTC()
	for _, w := range []struct{ from, to time.Time }{{now.Add(-time.Minute), now.Add(time.Hour)}, {now.Add(2 * time.Hour), now.Add(3 * time.Hour)}} {
		code, body := adminCall(t, app, "POST", "/api/admin/maintenance", fmt.Sprintf(`{"title":"Shop move","component":"dest:%s","starts_at":%q,"ends_at":%q}`,
			shopURL, w.from.Format(time.RFC3339Nano), w.to.Format(time.RFC3339Nano)))
		if code != 201 {
			t.Fatalf("create maintenance: %d %s", code, body)
		}
	}
	db, err := sqlite.Open(context.Background(), app.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitUntil(t, 20*time.Second, "the shop's incident", func() bool {
		open, err := db.OpenIncidents(context.Background())
		return err == nil && len(open) == 1
	})

	for _, path := range []string{"/status", "/status/acme"} {
		_, page := get(t, "GET", app.URL+path)
		for _, want := range []string{`class="banner banner-maintenance"`, "<h2>Service Under Maintenance</h2>", "Maintenance in progress: Shop move",
			"Scheduled maintenance: Shop move", "· during maintenance"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		// The shop, its host and its page; the hub, not self-checked here,
		// has no data.
		var maintained int
		for _, st := range stateLabels.FindAllStringSubmatch(page, -1) {
			switch {
			case st[1] == "under_maintenance" && st[2] == "Under maintenance":
				maintained++
			case st[1] != "unknown" || st[2] != "No data":
				t.Errorf("%s: a component reads %q (%s) during maintenance", path, st[2], st[1])
			}
		}
		if maintained < 3 || strings.Contains(page, "Partial System Outage") {
			t.Errorf("%s: %d components under maintenance (want the shop, its host and its page), or an outage banner", path, maintained)
		}
		for _, l := range regexp.MustCompile(`<section class="maint" [^>]*>`).FindAllString(page, -1) {
			if !strings.Contains(l, "aria-labelledby=") {
				t.Errorf("%s: a maintenance section without its own label: %s", path, l)
			}
		}
	}
	_, summary := get(t, "GET", app.URL+"/api/v2/summary.json")
	var m struct {
		Status     struct{ Indicator, Description string }
		Components []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(summary), &m); err != nil {
		t.Fatal(err)
	}
	if m.Status.Indicator != "maintenance" || m.Status.Description != "Service Under Maintenance" {
		t.Errorf("summary.json status = %+v", m.Status)
	}
	for _, c := range m.Components {
		if c.Name != "Link hub" && c.Status != "under_maintenance" {
			t.Errorf("summary.json: %s is %s during its maintenance", c.Name, c.Status)
		}
	}
	atom, rss := parseFeed(t, app.URL+"/status/feed.atom"), parseFeed(t, app.URL+"/status/feed.rss")
	for _, f := range []*gofeed.Feed{atom, rss} {
		var titles []string
		for _, it := range f.Items {
			titles = append(titles, it.Title)
			if len(it.Authors) == 0 || it.Authors[0].Name == "" {
				t.Errorf("%s item %q has no author", f.FeedType, it.Title)
			}
		}
		if !slices.Contains(titles, "Maintenance in progress: Shop move") || !slices.Contains(titles, "Scheduled maintenance: Shop move") {
			t.Errorf("%s items %q lack the windows", f.FeedType, titles)
		}
	}

	resp, page := get(t, "GET", app.URL+"/status/nobody")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, "<title>No such status page") || !strings.Contains(page, "/status/static/status.css") {
		t.Errorf("/status/nobody: %d %s:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
}

// TestServeRecurringMaintenance goes through serve and its admin API: a
// recurring window that fires every minute for a minute is in progress
// whenever it is read, and one due in two hours is upcoming. The first
// puts the page under maintenance in HTML and summary.json and lists in
// active.json; the second lists in upcoming.json, scheduled for its next
// occurrence; both are in the feed; once deleted, neither is anywhere.
func TestServeRecurringMaintenance(t *testing.T) {
	t.Parallel()
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(shop.Close)
	app := startApp(t, `
server: {admin_token: "`+trustToken+`"}
storage: {path: DBPATH}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false}
pages:
  - slug: acme
    title: Acme
    links:
      - {slug: shop, url: "`+shop.URL+`/shop"}
`, nil)
	due := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Minute)
	ids := map[string]string{}
	for title, sched := range map[string]string{
		"Rolling deploy": `"schedule":"* * * * *","duration":"1m"`,
		"Nightly backup": fmt.Sprintf(`"schedule":"%d %d * * *","duration":"30m"`, due.Minute(), due.Hour()),
	} {
		code, body := adminCall(t, app, "POST", "/api/admin/maintenance/recurring", `{"title":"`+title+`","component":"page:acme",`+sched+`}`)
		if code != 201 {
			t.Fatalf("create %s: %d %s", title, code, body)
		}
		var m struct{ ID int64 }
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		ids[title] = strconv.FormatInt(m.ID, 10)
	}

	type window struct {
		ID, Name, Status string
		ScheduledFor     time.Time `json:"scheduled_for"`
		ScheduledUntil   time.Time `json:"scheduled_until"`
		Components       []struct{ Name string }
	}
	type maintenances struct {
		ScheduledMaintenances []window `json:"scheduled_maintenances"`
	}
	read := func(path string) maintenances {
		t.Helper()
		resp, body := get(t, "GET", app.URL+path)
		var m maintenances
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		return m
	}
	// The rolling deploy's next minute is upcoming too: keep the backup.
	up := slices.DeleteFunc(read("/api/v2/scheduled-maintenances/upcoming.json").ScheduledMaintenances,
		func(m window) bool { return m.Name == "Rolling deploy" })
	if len(up) != 1 || up[0].Name != "Nightly backup" || up[0].Status != "scheduled" || !up[0].ScheduledFor.Equal(due) ||
		!up[0].ScheduledUntil.Equal(due.Add(30*time.Minute)) || up[0].ID != "maintenance-r"+ids["Nightly backup"]+due.Format("-20060102T1504Z") ||
		len(up[0].Components) == 0 {
		t.Errorf("upcoming.json = %+v, want the nightly backup at %s", up, due)
	}
	active := read("/api/v2/scheduled-maintenances/active.json").ScheduledMaintenances
	if len(active) != 1 || active[0].Name != "Rolling deploy" || active[0].Status != "in_progress" {
		t.Errorf("active.json = %+v, want the rolling deploy", active)
	}
	var summary struct {
		Status     struct{ Indicator string }
		Components []struct{ Name, Status string }
	}
	_, body := get(t, "GET", app.URL+"/api/v2/summary.json")
	if err := json.Unmarshal([]byte(body), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Status.Indicator != "maintenance" {
		t.Errorf("summary.json indicator = %q", summary.Status.Indicator)
	}
	// The page's window covers the page (its links only when they fail).
	if !slices.Contains(summary.Components, struct{ Name, Status string }{"Acme", "under_maintenance"}) {
		t.Errorf("summary.json components = %+v, want Acme under maintenance", summary.Components)
	}
	_, page := get(t, "GET", app.URL+"/status/acme")
	for _, want := range []string{`class="banner banner-maintenance"`, "Maintenance in progress: Rolling deploy", "Scheduled maintenance: Nightly backup",
		`id="maintenance-r` + ids["Nightly backup"] + due.Format("-20060102T1504Z") + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("/status/acme lacks %q", want)
		}
	}
	var titles []string
	for _, it := range parseFeed(t, app.URL+"/status/feed.atom").Items {
		titles = append(titles, it.Title)
	}
	if !slices.Contains(titles, "Maintenance in progress: Rolling deploy") || !slices.Contains(titles, "Scheduled maintenance: Nightly backup") {
		t.Errorf("feed items %q lack the recurring windows", titles)
	}

	for _, id := range ids {
		if code, body := adminCall(t, app, "DELETE", "/api/admin/maintenance/recurring/"+id, ""); code != 204 {
			t.Fatalf("delete: %d %s", code, body)
		}
	}
	waitUntil(t, 10*time.Second, "the windows gone from the Statuspage JSON", func() bool {
		return len(read("/api/v2/scheduled-maintenances.json").ScheduledMaintenances) == 0
	})
}

// TestServeStatusPageGzipped goes through serve: a browser asking for
// gzip gets the status page compressed, with serve's security headers.
func TestServeStatusPageGzipped(t *testing.T) {
	t.Parallel()
	app := startApp(t, `
storage: {path: "DBPATH"}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false}
pages:
  - slug: ada
    links:
      - {slug: gone, url: "`+closedURL(t, "/gone")+`"}
`, nil)
	req, err := http.NewRequest("GET", app.URL+"/status/ada", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("status %d, Content-Encoding %q, X-Content-Type-Options %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("X-Content-Type-Options"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(page), `id="link-gone"`) {
		t.Errorf("the gzipped page (%v) lacks its link: %.200s", err, page)
	}
}
