package statuspage_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"linkwatch/checker"
	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/statuspage"
	"linkwatch/storage/sqlite/sqlitetest"
)

// TestProberOfflineIsMonitoringDegradedNotAnOutage: our own network failing
// is not the links' outage. The public page says monitoring is degraded and
// shows every link as it was, with no outage indicator.
func TestProberOfflineIsMonitoringDegradedNotAnOutage(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	now := time.Now().UTC()
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Record(ctx, incidents.Change{Incident: incidents.Incident{Key: "prober", Kind: incidents.KindProberOffline,
		Title: "Prober offline", Cause: checker.CauseProberOffline, Summary: "the canary and 20 of 20 destinations fail at once",
		Status: incidents.StatusInvestigating, Impact: incidents.ImpactMajor, Targets: []string{"canary:https://canary.example/"},
		StartedAt: now.Add(-time.Minute), UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	sp := statuspage.New(&source{DB: db}, statuspage.Options{Name: "Acme status", URL: "https://links.example", Interval: time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler)})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	_, body := get(t, srv.URL+"/api/v2/summary.json")
	var m struct {
		Status     struct{ Indicator, Description string }
		Components []struct{ ID, Status string }
		Incidents  []struct{ Impact string }
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Status.Indicator != "none" || m.Status.Description != "Monitoring Degraded" {
		t.Errorf("status = %+v, want indicator none, Monitoring Degraded", m.Status)
	}
	for _, c := range m.Components {
		if c.Status != "operational" {
			t.Errorf("component %s is %s while only our prober is offline", c.ID, c.Status)
		}
	}
	for _, inc := range m.Incidents {
		if inc.Impact != "none" {
			t.Errorf("prober incident shown with impact %s", inc.Impact)
		}
	}
	_, html := get(t, srv.URL+"/status")
	if !strings.Contains(string(html), `id="monitoring-degraded"`) || strings.Contains(string(html), "Outage") {
		t.Errorf("status page: want the monitoring notice and no outage banner")
	}
}
