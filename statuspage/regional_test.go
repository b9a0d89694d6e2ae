package statuspage_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
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

// TestRegionalNoteIsDegraded: a destination failing from a minority of
// regions (a regional note) shows on /status, on its page's status and in
// the Statuspage JSON as degraded performance, "unreachable from eu-west";
// a destination on another page is untouched.
func TestRegionalNoteIsDegraded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	now := time.Now().UTC()
	cat, err := hub.NewCatalog([]hub.PageSpec{
		{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}},
		{Slug: "ada", Title: "Ada", Links: []hub.LinkSpec{{Slug: "blog", URL: blogURL}}},
	}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "regional:" + shopURL, Kind: linkwatch.KindRegional,
		Title: "acme/shop is unreachable from eu-west", Cause: linkwatch.CauseConnectTimeout,
		Summary: "unreachable from eu-west (connect_timeout); us-east sees it up: a regional network problem, not an outage",
		Status:  linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMinor, Host: "shop.example", Targets: []string{shopURL},
		Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL}},
		StartedAt: now.Add(-time.Minute), UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	sp := statuspage.New(newSource(db), statuspage.Options{Name: "Acme status", URL: "https://links.example", Interval: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler)})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	_, body := get(t, srv.URL+"/api/v2/summary.json")
	var m struct {
		Status     struct{ Indicator string }
		Components []struct{ Name, Status string }
		Incidents  []struct {
			Name, Impact    string
			IncidentUpdates []struct{ Body string } `json:"incident_updates"`
		}
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Status.Indicator != "minor" {
		t.Errorf("indicator = %s, want minor", m.Status.Indicator)
	}
	for _, c := range m.Components {
		want := "operational"
		if c.Name == shopURL || c.Name == "shop.example" || c.Name == "Acme" {
			want = "degraded_performance"
		}
		if c.Status != want {
			t.Errorf("component %s is %s, want %s", c.Name, c.Status, want)
		}
	}
	if len(m.Incidents) != 1 || m.Incidents[0].Name != "acme/shop is unreachable from eu-west" || m.Incidents[0].Impact != "minor" ||
		!strings.Contains(m.Incidents[0].IncidentUpdates[0].Body, "Detected by linkwatch from some of its probing regions only: ") {
		t.Errorf("incidents = %+v", m.Incidents)
	}
	for _, path := range []string{"/status", "/status/acme"} {
		if _, html := get(t, srv.URL+path); !strings.Contains(string(html), "unreachable from eu-west") {
			t.Errorf("%s does not show the regional note", path)
		}
	}
	if _, html := get(t, srv.URL+"/status/ada"); strings.Contains(string(html), "unreachable from") {
		t.Error("/status/ada shows acme's regional note")
	}
}
