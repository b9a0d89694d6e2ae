package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch/hub"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// outageConfig is a replica on the PostgreSQL of ${PG_DSN} that alerts
// after 1 s of database outage, to the webhook at hookURL, and checks
// every second its one link, /a/x: link is its YAML mapping's inside.
func outageConfig(hookURL, link string) string {
	return `
storage: {driver: postgres, dsn: "${PG_DSN}"}
server: {admin_token: "` + trustToken + `", rate_limit: {per_second: 100000, burst: 100000}}
probe: {interval: 1s, timeout: 500ms, self_check: false, allow_private: [127.0.0.1/32]}
alerts:
  database_outage_after: 1s
  webhooks: [{name: ops, url: "` + hookURL + `", secret: "${HOOK_SECRET}"}]
pages:
  - slug: a
    links:
      - {slug: x, ` + link + `}
`
}

// clickTotal is the clicks of /a/x in the database at dsn.
func clickTotal(t *testing.T, dsn string) int64 {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	totals, err := db.ClickTotals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return totals[hub.LinkKey{Page: "a", Link: "x"}]
}

// TestServeStartsDuringAPostgresOutage: a replica started while its
// PostgreSQL is down serves a 302 from its config as soon as it listens,
// probes nothing until the database answers (it does not know its share
// of the hosts), alerts the outage, and starts the rest once the
// database is back; the clicks of the wait are written then.
func TestServeStartsDuringAPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := pgtest.Own(t)
	dsn := pg.DSN(t)
	pg.Down(t)
	var checks atomic.Int64
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer dest.Close()
	hook := newHookReceiver(t)
	app := startApp(t, outageConfig(hook.srv.URL, `url: "`+dest.URL+`/x"`), map[string]string{"PG_DSN": dsn, "HOOK_SECRET": hookSecret})
	resp, _ := get(t, "GET", app.URL+"/a/x")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest.URL+"/x" {
		t.Fatalf("the first redirect of a replica started during the outage: %d to %q, want 302 to the destination", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]int{"/readyz": 200, "/healthz": 200, "/readyz/storage": 503, "/status": 503, "/a": 200} {
		if resp, _ := get(t, "GET", app.URL+path); resp.StatusCode != want {
			t.Errorf("GET %s = %d during the outage, want %d", path, resp.StatusCode, want)
		}
	}
	if resp, _ := get(t, "GET", app.URL+"/status"); resp.Header.Get("Retry-After") == "" {
		t.Error("the status page's 503 has no Retry-After")
	}
	// The admin API says it waits for the database, rather than failing
	// on a table a migration has yet to make.
	if code, body := adminCall(t, app, "GET", "/api/admin/incidents", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "has not reached its database yet") {
		t.Errorf("GET /api/admin/incidents during the outage = %d %s, want 503 saying the database is not reached yet", code, body)
	}
	// The outage alert comes after 1 s of failed checks: two probe
	// intervals, in which nothing was checked.
	hook.waitFor(app, 10*time.Second, "storage.unreachable", func(b hookBody) bool { return b.Type == "storage.unreachable" })
	if n := checks.Load(); n != 0 {
		t.Errorf("%d checks while the database was out of reach: probing as if alone", n)
	}
	get(t, "GET", app.URL+"/a/x")

	pg.Up(t)
	hook.waitFor(app, 20*time.Second, "storage.reachable", func(b hookBody) bool { return b.Type == "storage.reachable" })
	waitUntil(t, 10*time.Second, "checks once the database answers", func() bool { return checks.Load() > 0 })
	waitUntil(t, 10*time.Second, "the status page", func() bool { resp, _ := get(t, "GET", app.URL+"/status"); return resp.StatusCode == 200 })
	waitUntil(t, 10*time.Second, "the admin API once the database answers", func() bool {
		code, _ := adminCall(t, app, "GET", "/api/admin/incidents", "")
		return code == http.StatusOK
	})
	waitUntil(t, 15*time.Second, "the clicks of the outage in the database", func() bool { return clickTotal(t, dsn) == 2 })
	if err := app.stop(t); err != nil {
		t.Errorf("run: %v", err)
	}
}
