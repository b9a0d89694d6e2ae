package statuspage_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/hub/middleware"
	"linkwatch/incidents"
	"linkwatch/statuspage"
	"linkwatch/statuspage/storesource"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

// source reads the status page's data from SQLite as serve does, and
// counts how often the page reads incidents and latency.
type source struct {
	storesource.Source
	DB     *sqlite.DB
	reads  atomic.Int32
	series atomic.Int32 // LatencySeries calls
}

func newSource(db *sqlite.DB) *source { return &source{Source: *storesource.New(db), DB: db} }

func (s *source) OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error) {
	s.reads.Add(1)
	return s.Source.OpenIncidents(ctx)
}

func (s *source) LatencySeries(ctx context.Context, groups map[string][]string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string]statuspage.LatencySeries, error) {
	s.series.Add(1)
	return s.Source.LatencySeries(ctx, groups, from, to, step, unknown)
}

const (
	shopURL = "https://shop.example/"
	blogURL = "https://blog.example/posts"
	// zedURL is on the shop's host, on a page of its own: the shop's
	// incident and the blog's maintenance are not zed's.
	zedURL = "https://shop.example/zed"
	// backupURL is the shop link's fallback, where its visitors are being
	// sent during the shop's open incident.
	backupURL = "https://backup.example/shop"
)

// seeded is a status page over a database holding two days of checks, an
// open incident on the shop, a resolved one on the blog with a published
// postmortem, and a maintenance window.
func seeded(t *testing.T) (*httptest.Server, *source) {
	t.Helper()
	db := seededDB.Open(t)
	cat, err := hub.NewCatalog([]hub.PageSpec{
		{Slug: "acme", Title: "Acme <script>alert(1)</script>", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL, Fallback: backupURL}, {Slug: "blog", URL: blogURL}}},
		{Slug: "ada", Title: "Ada", Links: []hub.LinkSpec{{Slug: "blog", URL: blogURL}}},
		{Slug: "zed", Title: "Zed", Links: []hub.LinkSpec{{Slug: "store", URL: zedURL}}},
	}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(db)
	sp := statuspage.New(src, statuspage.Options{Name: "Acme status", URL: "https://links.example", Interval: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, CacheFor: time.Hour, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	r := mux.NewRouter()
	sp.Register(r)
	hubSrv := hub.NewServer(cat, slog.New(slog.DiscardHandler))
	// The blog is down without a fallback: its button carries the note
	// (the browser test checks it for accessibility).
	hubSrv.ObserveHealth(linkwatch.Health{Links: []linkwatch.LinkHealth{{Page: "acme", Link: "blog", Down: true}}})
	r.NotFoundHandler = hubSrv
	// The security headers are the middleware's, as serve wraps every
	// answer in it.
	srv := httptest.NewServer(middleware.SecurityHeaders(r))
	t.Cleanup(srv.Close)
	return srv, src
}

// seededDB is seeded's database, written once per test binary (two days
// of checks cost seconds under -race) and copied for each test.
var seededDB = &sqlitetest.Template{Seed: seed}

// seed writes seeded's history, up to now.
func seed(ctx context.Context, db *sqlite.DB) error {
	now := time.Now().UTC()
	var batch []linkwatch.Result
	for i := 0; i < 2*24*60; i++ { // a check a minute for two days
		at := now.Add(-48*time.Hour + time.Duration(i)*time.Minute)
		for _, u := range []string{shopURL, blogURL} {
			st := linkwatch.StatusUp
			if u == blogURL && i >= 600 && i < 660 {
				st = linkwatch.StatusDown
			}
			batch = append(batch, linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: at, Latency: time.Millisecond, Status: st})
		}
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		return err
	}
	if err := db.RollUp(ctx); err != nil {
		return err
	}
	open, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "dest:" + shopURL, Kind: linkwatch.KindDestination,
		Title: "acme/shop is down (http_5xx)", Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable at " + shopURL,
		Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: "shop.example", Targets: []string{shopURL},
		Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL, Fallback: backupURL, Diverted: true}},
		StartedAt: now.Add(-10 * time.Minute), UpdatedAt: now}})
	if err != nil {
		return err
	}
	identified := open
	identified.Status = linkwatch.StatusIdentified
	if _, err := db.Record(ctx, incidents.Change{Incident: identified,
		Update: &linkwatch.Update{Status: linkwatch.StatusIdentified, Body: "The shop's payment provider is down."}}); err != nil {
		return err
	}
	past, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "dest:" + blogURL, Kind: linkwatch.KindDestination,
		Title: "acme/blog is down (dns)", Cause: linkwatch.CauseDNS, Summary: "DNS lookup for blog.example: no such host",
		Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor, Targets: []string{blogURL},
		StartedAt: now.Add(-38 * time.Hour), UpdatedAt: now.Add(-37 * time.Hour), ResolvedAt: now.Add(-37 * time.Hour)}})
	if err != nil {
		return err
	}
	if _, err := db.EditPostmortem(ctx, past.ID, linkwatch.Postmortem{PrimaryCause: "The blog's domain <b>expired</b>",
		WhyNotCaught: "No expiry monitoring", Published: true}); err != nil {
		return err
	}
	if _, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "Blog migration", Component: "host:blog.example",
		StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)}); err != nil {
		return err
	}
	return nil
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func hasKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q (has %v)", what, k, keys(m))
		}
	}
}

func TestSummaryJSONHasTheStatuspageShape(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	resp, body := get(t, srv.URL+"/api/v2/summary.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("status %d, type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	hasKeys(t, "summary", m, "page", "components", "incidents", "scheduled_maintenances", "status")
	hasKeys(t, "page", m["page"].(map[string]any), "id", "name", "url", "time_zone", "updated_at")
	status := m["status"].(map[string]any)
	hasKeys(t, "status", status, "indicator", "description")
	if status["indicator"] != "major" || status["description"] != "Partial System Outage" {
		t.Errorf("status = %v", status)
	}
	comps := m["components"].([]any)
	byName := map[string]map[string]any{}
	for _, c := range comps {
		cm := c.(map[string]any)
		hasKeys(t, "component", cm, "id", "name", "status", "position", "description", "group_id", "created_at", "updated_at")
		if !slices.Contains([]string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}, cm["status"].(string)) {
			t.Errorf("component status %q outside the vocabulary", cm["status"])
		}
		byName[cm["name"].(string)] = cm
	}
	want := map[string]string{"Link hub": "operational", "Acme <script>alert(1)</script>": "partial_outage", "Ada": "operational",
		shopURL: "major_outage", "shop.example": "partial_outage", "blog.example": "under_maintenance", zedURL: "operational"}
	for name, st := range want {
		if c, ok := byName[name]; !ok || c["status"] != st {
			t.Errorf("component %s = %v, want status %s", name, c, st)
		}
	}
	if g := byName[shopURL]["group_id"]; g != byName["shop.example"]["id"] {
		t.Errorf("destination group_id = %v, want the host group's id %v", g, byName["shop.example"]["id"])
	}
	incs := m["incidents"].([]any)
	if len(incs) != 1 {
		t.Fatalf("%d unresolved incidents in summary, want 1", len(incs))
	}
	inc := incs[0].(map[string]any)
	hasKeys(t, "incident", inc, "id", "name", "status", "impact", "shortlink", "created_at", "updated_at", "started_at",
		"monitoring_at", "resolved_at", "incident_updates", "components")
	if inc["status"] != "identified" || inc["impact"] != "major" {
		t.Errorf("incident = %v", inc)
	}
	ups := inc["incident_updates"].([]any)
	if len(ups) != 2 {
		t.Fatalf("%d updates, want the posted one and the automatic opening", len(ups))
	}
	u := ups[0].(map[string]any)
	hasKeys(t, "incident_update", u, "id", "status", "body", "created_at", "display_at", "affected_components")
	if u["status"] != "identified" || !strings.Contains(u["body"].(string), "payment provider") {
		t.Errorf("newest update = %v", u)
	}
	maint := m["scheduled_maintenances"].([]any)
	if len(maint) != 1 {
		t.Fatalf("maintenances = %v", maint)
	}
	mm := maint[0].(map[string]any)
	hasKeys(t, "scheduled_maintenance", mm, "id", "name", "status", "scheduled_for", "scheduled_until", "incident_updates", "components")
	if mm["status"] != "in_progress" {
		t.Errorf("maintenance status = %v", mm["status"])
	}
}

func TestAPIEndpoints(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	tests := []struct {
		path  string
		key   string
		count int // -1: not a list
	}{
		{"/api/v2/status.json", "status", -1},
		{"/api/v2/components.json", "components", 9},
		{"/api/v2/incidents.json", "incidents", 2},
		{"/api/v2/incidents/unresolved.json", "incidents", 1},
		{"/api/v2/scheduled-maintenances.json", "scheduled_maintenances", 1},
	}
	for _, tt := range tests {
		resp, body := get(t, srv.URL+tt.path)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", tt.path, resp.StatusCode, err)
		}
		hasKeys(t, tt.path, m, "page", tt.key)
		if tt.count >= 0 {
			if n := len(m[tt.key].([]any)); n != tt.count {
				t.Errorf("%s: %d %s, want %d", tt.path, n, tt.key, tt.count)
			}
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("%s: headers %v", tt.path, resp.Header)
		}
	}
}

func TestStatusHTML(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	resp, body := get(t, srv.URL+"/status")
	html := string(body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	for _, want := range []string{
		`id="banner"`, "Partial System Outage",
		`<span class="name">Acme &lt;script&gt;alert(1)&lt;/script&gt;</span>`, "Partial outage",
		"acme/shop is down (http_5xx)", "payment provider is down",
		"Maintenance in progress: Blog migration",
		"Past incidents", "acme/blog is down (dns)", "Primary cause", "The blog&#39;s domain &lt;b&gt;expired&lt;/b&gt;",
		"No expiry monitoring",
		"Acme &lt;script&gt;alert(1)&lt;/script&gt;",
		`<ol class="bars" aria-label="90-day history of Acme &lt;script&gt;alert(1)&lt;/script&gt;: `, `<li class="up">`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Error("a title was rendered as markup")
	}
	// One page's dependencies.
	resp, body = get(t, srv.URL+"/status/ada")
	if resp.StatusCode != 200 || strings.Contains(string(body), "acme/shop is down") || !strings.Contains(string(body), "blog.example") {
		t.Errorf("/status/ada: %d, shows the shop incident or lacks the blog", resp.StatusCode)
	}
	// An unknown page's status is a real page, in the status page's
	// style, not bare text; HEAD gets its headers.
	resp, body = get(t, srv.URL+"/status/nobody")
	for _, want := range []string{`<html lang="en">`, "<title>No such status page · Acme status</title>", `href="/status/static/status.css"`,
		"<code>nobody</code>", `href="/status"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/status/nobody lacks %s:\n%s", want, body)
		}
	}
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("/status/nobody: %d, headers %v", resp.StatusCode, resp.Header)
	}
	resp, err := http.Head(srv.URL + "/status/nobody")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD /status/nobody: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestStatusIsCached(t *testing.T) {
	t.Parallel()
	srv, src := seeded(t)
	for range 5 {
		get(t, srv.URL+"/status")
		get(t, srv.URL+"/api/v2/summary.json")
	}
	if n := src.reads.Load(); n != 1 {
		t.Errorf("10 requests read the incidents %d times, want once (cached)", n)
	}
}

func TestFeeds(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	for _, path := range []string{"/status/feed.atom", "/history.atom"} {
		resp, body := get(t, srv.URL+path)
		var feed struct {
			Entries []struct {
				Title   string `xml:"title"`
				Content string `xml:"content"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(body, &feed); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		if len(feed.Entries) != 3 || !strings.Contains(feed.Entries[0].Content, "payment provider") ||
			feed.Entries[2].Title != "Maintenance in progress: Blog migration" || !strings.Contains(feed.Entries[2].Content, "blog.example is under maintenance from") {
			t.Errorf("%s entries: %+v", path, feed.Entries)
		}
	}
	resp, body := get(t, srv.URL+"/status/feed.rss")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<rss")) {
		t.Errorf("rss: %d", resp.StatusCode)
	}
}

func TestBadges(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/badge/acme.svg", 200, "partial outage"},
		{"/badge/ada.svg", 200, "operational"},
		{"/badge/acme/shop.svg", 200, "major outage"},
		{"/badge/ada.svg?uptime=7d", 200, "%"},
		{"/badge/ada.svg?uptime=24h", 200, "ada 24h"},
		{"/badge/ada.svg?uptime=1y", 400, "uptime must be"},
		{"/badge/nobody.svg", 404, ""},
		{"/badge/acme/nope.svg", 404, ""},
	}
	for _, tt := range tests {
		resp, body := get(t, srv.URL+tt.path)
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s: %d %q, want %d containing %q", tt.path, resp.StatusCode, body, tt.status, tt.want)
		}
		if tt.status == 200 && resp.Header.Get("Content-Type") != "image/svg+xml; charset=utf-8" {
			t.Errorf("%s: content type %s", tt.path, resp.Header.Get("Content-Type"))
		}
	}
}

func TestQRCodes(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	resp, body := get(t, srv.URL+"/acme/shop/qr.png")
	if resp.StatusCode != 200 {
		t.Fatalf("png: %d", resp.StatusCode)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("png: %v %v", err, img)
	}
	resp, body = get(t, srv.URL+"/acme/qr.svg")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "QR code for https://links.example/acme") {
		t.Errorf("svg: %d %.200s", resp.StatusCode, body)
	}
	for _, p := range []string{"/nobody/qr.svg", "/acme/nope/qr.png"} {
		if resp, _ := get(t, srv.URL+p); resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func TestHubHistoryFromPageSeries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "a", URL: shopURL}, {Slug: "b", URL: blogURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	var batch []linkwatch.Result
	for i := 0; i < 24*60; i++ { // a check a minute of each link's redirect, for one day
		at := day.Add(time.Duration(i) * time.Minute)
		for _, link := range []string{"a", "b"} {
			st := linkwatch.StatusUp
			if link == "b" && i < 60 {
				st = linkwatch.StatusDown // one of two redirects wrong for an hour
			}
			batch = append(batch, linkwatch.Result{TargetID: "self:/acme/" + link, Series: "self:/acme", Kind: linkwatch.TargetSelfCheck,
				URL: "https://links.example/acme/" + link, Start: at, Latency: time.Millisecond, Status: st})
		}
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	sp := statuspage.New(newSource(db), statuspage.Options{URL: "https://links.example", Interval: time.Minute, SelfCheck: true,
		Catalog: func() *hub.Catalog { return cat }})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	_, body := get(t, srv.URL+"/status")
	// Half the hub's redirects wrong for 60 minutes: 30 minutes of downtime.
	want := day.Format("Mon 2 Jan 2006") + ": 30 min of downtime"
	if !strings.Contains(string(body), want) {
		t.Errorf("the hub's bar for %s lacks %q", day.Format("2 Jan"), want)
	}
}

// A page's status lists its links with their p50 and p95 over the last
// 24 h from the rollup histograms, and says where the visitors of a link on
// its fallback are being sent; the all-pages status does not list links.
func TestPageStatusShowsLinkLatencyAndFallback(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	_, body := get(t, srv.URL+"/status/acme")
	page := string(body)
	for _, want := range []string{
		`id="link-shop"><h3>shop <span class="state state-major_outage">`,
		`id="link-blog"><h3>blog <span class="state state-under_maintenance">`,
		`<p>` + shopURL + `<br>90 days: `,
		// Every check took 1 ms: the 10 ms bucket's bound, capped by the maximum.
		`24 hours: median 1 ms, p95 1 ms`,
		`visitors are being sent to its fallback, <a href="` + backupURL + `">` + backupURL + `</a>`,
		`acme</a>/shop (visitors are being sent to its fallback, ` + backupURL + `)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/status/acme lacks %s", want)
		}
	}
	if strings.Count(page, "visitors are being sent") != 2 {
		t.Errorf("the fallback is named %d times, want twice (the link and the incident)", strings.Count(page, "visitors are being sent"))
	}
	_, body = get(t, srv.URL+"/status/ada")
	if !strings.Contains(string(body), `id="link-blog"`) || strings.Contains(string(body), "visitors are being sent") {
		t.Errorf("/status/ada: want its blog link and no fallback:\n%s", body)
	}
	_, body = get(t, srv.URL+"/status")
	if strings.Contains(string(body), `id="links-h"`) {
		t.Error("the all-pages status lists links")
	}
}

// The status page is compressed once per snapshot and sent gzipped to
// the clients that ask for it (a page of 1,000 links is 1.4 MB of HTML,
// 48 KB gzipped); the others, and those that refuse it, get the HTML.
func TestStatusPageGzipped(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	fetch := func(accept string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+"/status/acme", nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	_, plain := fetch("")
	if !bytes.Contains(plain, []byte("<!doctype html>")) {
		t.Fatalf("without Accept-Encoding: not the HTML: %.100q", plain)
	}
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"*", true},
		{"*;q=0, gzip", true},
		{"gzip;q=0", false},
		{"gzip;q=0.000", false},
		{"gzip;q=nonsense", false},
		{"gzip;q=0, *", false},
		{"deflate, br", false},
		{"identity", false},
		{"x-gzip2", false},
	} {
		resp, body := fetch(tt.accept)
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tt.gzip {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", tt.accept, got, tt.gzip)
			continue
		}
		if resp.Header.Get("Vary") != "Accept-Encoding" || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("Accept-Encoding %q: Vary %q, Content-Length %q for %d bytes", tt.accept, resp.Header.Get("Vary"), resp.Header.Get("Content-Length"), len(body))
		}
		if tt.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%q: %v", tt.accept, err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%q: %v", tt.accept, err)
			}
		}
		if !bytes.Equal(body, plain) {
			t.Errorf("Accept-Encoding %q: a different page", tt.accept)
		}
	}
}
