package statuspage_test

import (
	"context"
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

// TestTwoPostmortemsOfOneTitle: a link that failed twice the same way has
// two past incidents of one title, each with a published postmortem. The
// page shows both postmortems, and no two landmarks read the same label
// (axe's landmark-unique).
func TestTwoPostmortemsOfOneTitle(t *testing.T) {
	t.Parallel()
	srv := twoPostmortems(t)
	for _, path := range []string{"/status", "/status/acme"} {
		_, body := get(t, srv.URL+path)
		html := string(body)
		if n := strings.Count(html, "The payment provider let its certificate expire"); n != 2 {
			t.Errorf("%s shows %d postmortems, want 2", path, n)
		}
		checkLandmarkLabels(t, path, html)
	}
}

// twoPostmortems is a status page over a store where the shop was down
// twice, a day apart, with the same cause: two resolved incidents of one
// title, each with a published postmortem.
func twoPostmortems(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	now := time.Now().UTC()
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	var batch []linkwatch.Result
	for at := now.Add(-50 * time.Hour); at.Before(now); at = at.Add(10 * time.Minute) {
		batch = append(batch, linkwatch.Result{TargetID: shopURL, Kind: linkwatch.TargetDestination, URL: shopURL, Start: at, Latency: 30 * time.Millisecond,
			Status: linkwatch.StatusUp, StatusCode: 200})
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, ago := range []time.Duration{48 * time.Hour, 24 * time.Hour} {
		start := now.Add(-ago)
		inc, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: "dest:" + shopURL, Kind: linkwatch.KindDestination,
			Title: "acme/shop is down (tls_expired)", Cause: linkwatch.CauseTLSExpired, Summary: "the certificate of shop.example expired",
			Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor, Host: "shop.example", Targets: []string{shopURL},
			Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL}},
			StartedAt: start, UpdatedAt: start.Add(20 * time.Minute), ResolvedAt: start.Add(20 * time.Minute)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.EditPostmortem(ctx, inc.ID, linkwatch.Postmortem{PrimaryCause: "The payment provider let its certificate expire",
			Published: true}); err != nil {
			t.Fatal(err)
		}
	}
	sp := statuspage.New(newSource(db), statuspage.Options{Name: "Acme status", URL: "https://links.example", Interval: 10 * time.Minute,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler)})
	r := mux.NewRouter()
	sp.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}
