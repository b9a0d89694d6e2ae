package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/hub"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestServeRedirectsWhileWaitingForPostgres: serve started before its
// database exists listens at once, and serves what needs no database:
// redirects (302), /healthz and /readyz (200), a 503 page for the status;
// /readyz/storage fails, the log says why with the host and never the
// password; once the database appears, it is migrated and used.
func TestServeRedirectsWhileWaitingForPostgres(t *testing.T) {
	t.Parallel()
	base := pgtest.DSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	late := strings.TrimPrefix(u.Path, "/") + "_late"
	u.Path = "/" + late
	password, _ := u.User.Password()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	defer func() { _, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+late+` WITH (FORCE)`) }()

	app := startApp(t, "storage: {driver: postgres, dsn: '${PG_DSN}'}\nprobe: {self_check: false}\n"+
		"pages:\n  - slug: a\n    links:\n      - {slug: x, url: 'https://127.0.0.1:9/'}\n", map[string]string{"PG_DSN": u.String()})
	status := func(path string) (int, string) {
		resp, body := get(t, "GET", app.URL+path)
		return resp.StatusCode, body
	}
	// At once: startApp has returned, the listener serves.
	if code, _ := status("/a/x"); code != http.StatusFound {
		t.Errorf("GET /a/x = %d while the database is missing, want 302 from the config", code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := status(p); code != 200 || body != "ok\n" {
			t.Errorf("GET %s = %d %q while the database is missing, want 200", p, code, body)
		}
	}
	if code, body := status("/readyz/storage"); code != 503 || body != "storage unavailable: the database does not answer\n" {
		t.Errorf("GET /readyz/storage = %d %q while the database is missing", code, body)
	}
	if code, body := status("/status"); code != 503 || !strings.Contains(body, "Status not available yet") {
		t.Errorf("GET /status = %d while the database is missing, want the 503 page:\n%s", code, body)
	}
	waitUntil(t, 10*time.Second, "a log line naming the host", func() bool {
		return strings.Contains(app.stderr.String(), u.Host) && strings.Contains(app.stderr.String(), "does not exist")
	})

	if _, err := admin.Exec(ctx, `CREATE DATABASE `+late); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "/readyz/storage 200 once the database exists", func() bool { code, _ := status("/readyz/storage"); return code == 200 })
	waitUntil(t, 10*time.Second, "the status page once the database exists", func() bool { code, _ := status("/status"); return code == 200 })
	if code, _ := status("/a/x"); code != http.StatusFound {
		t.Errorf("GET /a/x = %d once connected, want 302", code)
	}
	if err := app.stop(t); err != nil {
		t.Errorf("run: %v", err)
	}
	if strings.Contains(app.stderr.String(), password) {
		t.Fatalf("the log shows the database password:\n%s", app.stderr)
	}
	// The clicks of the wait were held, and written once it was over.
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if totals, err := db.ClickTotals(ctx); err != nil || totals[hub.LinkKey{Page: "a", Link: "x"}] != 2 {
		t.Errorf("clicks = %v (%v), want the 2 made", totals, err)
	}
}
