package statuspage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/statuspage"
)

func getJSON(t *testing.T, url string) (*http.Response, map[string]any) {
	t.Helper()
	resp, body := get(t, url)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %d, not JSON: %v\n%.300s", url, resp.StatusCode, err, body)
	}
	return resp, m
}

func names(list any) []string {
	var out []string
	for _, x := range list.([]any) {
		out = append(out, x.(map[string]any)["name"].(string))
	}
	return out
}

// Two pages share the shop's host: /status/zed, its JSON and its badge show
// zed's link, its host (holding only zed's destination) and the hub, and
// none of acme's incident or the blog's maintenance.
func TestPageStatusCoversOnlyItsLinks(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	resp, body := get(t, srv.URL+"/status/zed")
	html := string(body)
	if resp.StatusCode != 200 {
		t.Fatalf("/status/zed: %d", resp.StatusCode)
	}
	for _, bad := range []string{"acme/shop is down", "Blog migration", "Partial System Outage", "Major outage", ">" + shopURL + "<"} {
		if strings.Contains(html, bad) {
			t.Errorf("/status/zed shows %q, which is not zed's", bad)
		}
	}
	for _, want := range []string{"All Systems Operational", zedURL, "shop.example", "Link hub"} {
		if !strings.Contains(html, want) {
			t.Errorf("/status/zed lacks %q", want)
		}
	}

	_, m := getJSON(t, srv.URL+"/status/zed/api/v2/summary.json")
	if got := strings.Join(names(m["components"]), " | "); got != "Link hub | Zed | shop.example | "+zedURL {
		t.Errorf("zed's components = %s", got)
	}
	for _, c := range m["components"].([]any) {
		if st := c.(map[string]any)["status"]; st != "operational" {
			t.Errorf("zed's component %v is %v", c.(map[string]any)["name"], st)
		}
	}
	if n := len(m["incidents"].([]any)); n != 0 {
		t.Errorf("zed's summary lists %d incidents", n)
	}
	if n := len(m["scheduled_maintenances"].([]any)); n != 0 {
		t.Errorf("zed's summary lists %d maintenances", n)
	}
	if ind := m["status"].(map[string]any)["indicator"]; ind != "none" {
		t.Errorf("zed's indicator = %v", ind)
	}
	if u := m["page"].(map[string]any)["url"]; u != "https://links.example/status/zed" {
		t.Errorf("zed's page url = %v", u)
	}
	_, m = getJSON(t, srv.URL+"/status/zed/api/v2/incidents.json")
	if n := len(m["incidents"].([]any)); n != 0 {
		t.Errorf("zed's incidents.json lists %d", n)
	}
	// zed is never checked in this store: no data, and no outage either.
	if _, b := get(t, srv.URL+"/badge/zed.svg"); !strings.Contains(string(b), "no data") || strings.Contains(string(b), "outage") {
		t.Errorf("zed's badge: %s", b)
	}

	// ada shares the blog's destination itself: its maintenance and past
	// incident are ada's too, the shop's incident is not.
	_, body = get(t, srv.URL+"/status/ada")
	if html := string(body); strings.Contains(html, "acme/shop is down") || !strings.Contains(html, "Blog migration") || !strings.Contains(html, "acme/blog is down") {
		t.Errorf("/status/ada: wrong incidents or maintenance")
	}
	if resp, slashed := get(t, srv.URL+"/status/ada/"); resp.StatusCode != http.StatusOK || !bytes.Equal(slashed, body) {
		t.Errorf("/status/ada/: %d, want the page of /status/ada", resp.StatusCode)
	}
}

var opaqueID = regexp.MustCompile(`^[a-z2-7]{12}$`)

func componentIDs(t *testing.T, base string) map[string]string {
	t.Helper()
	_, m := getJSON(t, base+"/api/v2/components.json")
	out := map[string]string{}
	for _, c := range m["components"].([]any) {
		cm := c.(map[string]any)
		out[cm["name"].(string)] = cm["id"].(string)
	}
	return out
}

func TestComponentIDsAreOpaqueAndStable(t *testing.T) {
	t.Parallel()
	srv1, _ := seeded(t)
	srv2, _ := seeded(t) // another database and process state: a restart
	ids1, ids2 := componentIDs(t, srv1.URL), componentIDs(t, srv2.URL)
	seen := map[string]string{}
	for name, id := range ids1 {
		if !opaqueID.MatchString(id) {
			t.Errorf("component %s has id %q, want 12 opaque characters", name, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("components %s and %s share id %s", name, other, id)
		}
		seen[id] = name
		if ids2[name] != id {
			t.Errorf("component %s: id %s, then %s after a restart", name, id, ids2[name])
		}
	}
	// The HTML anchors and an incident's affected components use them too.
	_, body := get(t, srv1.URL+"/status")
	if want := `id="component-` + ids1[shopURL] + `"`; !strings.Contains(string(body), want) {
		t.Errorf("/status lacks %s", want)
	}
	_, m := getJSON(t, srv1.URL+"/api/v2/incidents/unresolved.json")
	aff := m["incidents"].([]any)[0].(map[string]any)["incident_updates"].([]any)[0].(map[string]any)["affected_components"].([]any)
	var codes []string
	for _, a := range aff {
		codes = append(codes, a.(map[string]any)["code"].(string))
	}
	if !strings.Contains(strings.Join(codes, ","), ids1[shopURL]) {
		t.Errorf("affected components %v lack the shop's id %s", codes, ids1[shopURL])
	}
}

// The maintenance endpoints list what Statuspage's do: upcoming the
// scheduled ones, active those in progress, the summary both, and
// scheduled-maintenances the most recent, completed ones included (with
// resolved_at).
func TestScheduledMaintenanceEndpoints(t *testing.T) {
	t.Parallel()
	srv, src := seeded(t)
	now := time.Now()
	for _, m := range []linkwatch.Maintenance{
		{Title: "Shop upgrade", Component: "page:acme", StartsAt: now.Add(24 * time.Hour), EndsAt: now.Add(25 * time.Hour)},
		{Title: "Shop cleanup", Component: "page:acme", StartsAt: now.Add(-3 * time.Hour), EndsAt: now.Add(-2 * time.Hour)},
	} {
		if _, err := src.CreateMaintenance(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	for _, base := range []string{"/api/v2", "/status/api/v2"} {
		_, up := getJSON(t, srv.URL+base+"/scheduled-maintenances/upcoming.json")
		_, active := getJSON(t, srv.URL+base+"/scheduled-maintenances/active.json")
		_, all := getJSON(t, srv.URL+base+"/scheduled-maintenances.json")
		_, summary := getJSON(t, srv.URL+base+"/summary.json")
		if got := names(up["scheduled_maintenances"]); len(got) != 1 || got[0] != "Shop upgrade" {
			t.Errorf("%s upcoming = %v", base, got)
		}
		if got := names(active["scheduled_maintenances"]); len(got) != 1 || got[0] != "Blog migration" {
			t.Errorf("%s active = %v", base, got)
		}
		if got := names(summary["scheduled_maintenances"]); !slices.Equal(got, []string{"Blog migration", "Shop upgrade"}) {
			t.Errorf("%s summary = %v, want the in-progress and the upcoming", base, got)
		}
		if got := names(all["scheduled_maintenances"]); !slices.Equal(got, []string{"Blog migration", "Shop upgrade", "Shop cleanup"}) {
			t.Errorf("%s all = %v, want the completed one too", base, got)
		}
		for _, m := range all["scheduled_maintenances"].([]any) {
			m := m.(map[string]any)
			completed := m["name"] == "Shop cleanup"
			if (m["status"] == "completed") != completed || (m["resolved_at"] != nil) != completed {
				t.Errorf("%s all: %v is %v, resolved at %v", base, m["name"], m["status"], m["resolved_at"])
			}
		}
		st := up["scheduled_maintenances"].([]any)[0].(map[string]any)["status"]
		if st != "scheduled" {
			t.Errorf("upcoming status = %v", st)
		}
	}
	// The maintenance line names the page by its title.
	_, body := get(t, srv.URL+"/status")
	if html := string(body); strings.Contains(html, "page:acme") || !strings.Contains(html, "Scheduled maintenance: Shop upgrade") ||
		!strings.Contains(html, "· Acme &lt;script&gt;alert(1)&lt;/script&gt;</p>") {
		t.Errorf("maintenance line does not name the page by its title")
	}
}

func TestAPINotFoundIsJSON(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	for _, p := range []string{"/api/v2/nope.json", "/api/v2/incidents/42.json", "/status/api/v2/nope.json",
		"/status/nobody/api/v2/summary.json", "/status/acme/api/v2/nope.json"} {
		resp, m := getJSON(t, srv.URL+p)
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || m["error"] == nil {
			t.Errorf("%s: %d %s %v", p, resp.StatusCode, resp.Header.Get("Content-Type"), m)
		}
	}
}

var millis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// checkTimes walks a decoded JSON value and checks every *_at, *_for and
// *_until string.
func checkTimes(t *testing.T, path string, v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && (strings.HasSuffix(k, "_at") || strings.HasSuffix(k, "_for") || strings.HasSuffix(k, "_until")) {
				n++
				if !millis.MatchString(s) {
					t.Errorf("%s.%s = %q, want UTC with milliseconds", path, k, s)
				}
			}
			n += checkTimes(t, path+"."+k, val)
		}
	case []any:
		for _, val := range x {
			n += checkTimes(t, path+"[]", val)
		}
	}
	return n
}

func TestPostmortemStatusAndMillisecondTimes(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	_, m := getJSON(t, srv.URL+"/api/v2/incidents.json")
	byName := map[string]map[string]any{}
	for _, x := range m["incidents"].([]any) {
		byName[x.(map[string]any)["name"].(string)] = x.(map[string]any)
	}
	if st := byName["acme/blog is down (dns)"]["status"]; st != "postmortem" {
		t.Errorf("resolved incident with a published postmortem has status %v", st)
	}
	if st := byName["acme/shop is down (http_5xx)"]["status"]; st != "identified" {
		t.Errorf("open incident has status %v", st)
	}
	if n := checkTimes(t, "incidents", m); n < 10 {
		t.Errorf("only %d timestamps checked", n)
	}
	_, m = getJSON(t, srv.URL+"/api/v2/summary.json")
	checkTimes(t, "summary", m)
}

// A widget given https://links.example/status as its page reads the API
// under it and links visitors to the status page.
func TestWidgetBaseIsStatus(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	_, m := getJSON(t, srv.URL+"/status/api/v2/summary.json")
	if u := m["page"].(map[string]any)["url"]; u != "https://links.example/status" {
		t.Errorf("page url = %v", u)
	}
	if n := len(m["components"].([]any)); n != 9 {
		t.Errorf("%d components", n)
	}
}

func TestReadableWords(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	_, body := get(t, srv.URL+"/status")
	html := string(body)
	for _, want := range []string{
		"Lasted 1 hour ·",        // the blog's incident, not "1h 0m"
		"Ongoing for 10 minutes", // the shop's, not "10 min"
		// The automatic update, in linkwatch's name, not "1h0m0s".
		"Resolved by linkwatch after 1 hour.",
		`class="incident incident-resolved"`, `<span class="tag tag-resolved">Resolved</span>`,
		`class="incident incident-ongoing impact-major"`, `<span class="tag tag-ongoing">Ongoing</span>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("/status lacks %q", want)
		}
	}
	if regexp.MustCompile(`\d+h\d+m|\dm0s`).MatchString(html) {
		t.Errorf("/status still shows Go durations")
	}
}

// statusServer is a status page over src's database for another public URL.
func statusServer(t *testing.T, src *source, cat *hub.Catalog, url string) *httptest.Server {
	t.Helper()
	sp := statuspage.New(src, statuspage.Options{Name: "Acme status", URL: url, Interval: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler)})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}
