package statuspage_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/statuspage"
	"linkwatch/storage/sqlite/sqlitetest"
)

// TestMaintenanceIsUnderMaintenance: the shop is down (an open incident)
// inside an active maintenance window, whichever component the window
// names: the shop, its host, its page or everything. Its components read
// under maintenance in HTML and in the Statuspage JSON, the indicator is
// "maintenance" ("Service Under Maintenance", as Atlassian's pages say),
// the banner says so, and the feeds carry the window; no outage is shown.
// A second, scheduled window is a landmark of its own, labelled apart.
func TestMaintenanceIsUnderMaintenance(t *testing.T) {
	t.Parallel()
	for _, component := range []string{"dest:" + shopURL, "host:shop.example", "page:acme", ""} {
		t.Run("window on "+component, func(t *testing.T) {
			srv := inMaintenance(t, component)

			for _, path := range []string{"/api/v2/summary.json", "/status/acme/api/v2/summary.json"} {
				_, body := get(t, srv.URL+path)
				var m struct {
					Status     struct{ Indicator, Description string }
					Components []struct{ Name, Status string }
					Incidents  []struct {
						Components []struct{ Name, Status string }
					}
				}
				if err := json.Unmarshal(body, &m); err != nil {
					t.Fatal(err)
				}
				if m.Status.Indicator != "maintenance" || m.Status.Description != "Service Under Maintenance" {
					t.Errorf("%s: status = %+v, want maintenance, Service Under Maintenance", path, m.Status)
				}
				for _, c := range m.Components {
					want := "under_maintenance"
					if c.Name == "Link hub" && component != "" {
						want = "operational" // not in the window, not failing
					}
					if c.Status != want {
						t.Errorf("%s: component %s is %s, want %s", path, c.Name, c.Status, want)
					}
				}
				if len(m.Incidents) != 1 || len(m.Incidents[0].Components) == 0 {
					t.Fatalf("%s: incidents = %+v, want the shop's", path, m.Incidents)
				}
				for _, c := range m.Incidents[0].Components {
					if c.Status != "under_maintenance" {
						t.Errorf("%s: the incident's component %s is %s", path, c.Name, c.Status)
					}
				}
			}
			_, body := get(t, srv.URL+"/api/v2/status.json")
			if !strings.Contains(string(body), `"indicator":"maintenance"`) {
				t.Errorf("status.json: %s", body)
			}

			for _, path := range []string{"/status", "/status/acme"} {
				_, body := get(t, srv.URL+path)
				html := string(body)
				for _, want := range []string{`class="banner banner-maintenance"`, "<h2>Service Under Maintenance</h2>",
					`<span class="state state-under_maintenance">Under maintenance</span>`, "Maintenance in progress: Shop move",
					"Scheduled maintenance: Shop move", "incident-maintained", "· during maintenance"} {
					if !strings.Contains(html, want) {
						t.Errorf("%s lacks %q", path, want)
					}
				}
				for _, not := range []string{"Major outage", "Partial outage", "Outage<", "state-major_outage", "state-partial_outage"} {
					if strings.Contains(html, not) {
						t.Errorf("%s shows %q during maintenance", path, not)
					}
				}
				if n := checkLandmarkLabels(t, path, html); n < 2 {
					t.Errorf("%s: %d labelled sections, want the two windows at least", path, n)
				}
			}

			for _, path := range []string{"/status/feed.atom", "/status/feed.rss"} {
				_, f := parseFeed(t, srv.URL+path)
				var titles []string
				for _, it := range f.Items {
					titles = append(titles, it.Title)
					if strings.HasPrefix(it.Title, "Maintenance in progress") && !strings.Contains(it.Description+it.Content, "is under maintenance from") {
						t.Errorf("%s: %q does not say what is under maintenance: %s%s", path, it.Title, it.Description, it.Content)
					}
				}
				if !slices.Contains(titles, "Maintenance in progress: Shop move") || !slices.Contains(titles, "Scheduled maintenance: Shop move") {
					t.Errorf("%s entries %q lack the windows", path, titles)
				}
			}
		})
	}
}

// inMaintenance is a status page over a store where the shop has been
// down for 5 minutes (an open incident, its alert held) inside an active
// maintenance window on component, "Shop move", with a second one
// scheduled in two hours.
func inMaintenance(t *testing.T, component string) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	now := time.Now().UTC()
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	var batch []linkwatch.Result
	for at := now.Add(-2 * time.Hour); at.Before(now); at = at.Add(time.Minute) {
		batch = append(batch, linkwatch.Result{TargetID: shopURL, Kind: linkwatch.TargetDestination, URL: shopURL, Start: at, Latency: 30 * time.Millisecond,
			Status: linkwatch.StatusUp, StatusCode: 200})
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "dest:" + shopURL, Kind: linkwatch.KindDestination,
		Title: "acme/shop is down (http_5xx)", Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable at " + shopURL,
		Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: "shop.example", Targets: []string{shopURL},
		Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL}},
		StartedAt: now.Add(-5 * time.Minute), UpdatedAt: now, AlertsSuppressed: true}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []linkwatch.Maintenance{
		{Title: "Shop move", Component: component, StartsAt: now.Add(-10 * time.Minute), EndsAt: now.Add(time.Hour)},
		{Title: "Shop move", Component: component, StartsAt: now.Add(2 * time.Hour), EndsAt: now.Add(3 * time.Hour)},
	} {
		if _, err := db.CreateMaintenance(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	sp := statuspage.New(newSource(db), statuspage.Options{Name: "Acme status", URL: "https://links.example", Interval: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler)})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// checkLandmarkLabels checks that no two labelled sections (landmarks) of a
// page read the same label, as axe's landmark-unique does, and that every
// element a label names is there. It returns how many it saw.
func checkLandmarkLabels(t *testing.T, path, page string) int {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	text := map[string]string{}
	var sections []*html.Node
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if id := attr(n, "id"); id != "" {
			text[id] = textOf(n)
		}
		if n.DataAtom == atom.Section {
			sections = append(sections, n)
		}
	}
	seen := map[string]bool{}
	for _, n := range sections {
		label := attr(n, "aria-label")
		if ids := attr(n, "aria-labelledby"); ids != "" {
			var words []string
			for _, id := range strings.Fields(ids) {
				s, ok := text[id]
				if !ok {
					t.Errorf("%s: a section is labelled by %q, which is not there", path, id)
				}
				words = append(words, s)
			}
			label = strings.Join(words, " ")
		}
		if label == "" {
			continue // not a landmark
		}
		if seen[label] {
			t.Errorf("%s: two sections are labelled %q", path, label)
		}
		seen[label] = true
	}
	return len(seen)
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// textOf is n's text content, its white space collapsed, as an accessible
// name reads it.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
