package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
server: {rate_limit: {per_second: 100000, burst: 100000}}
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

// redirectLoad sends redirects through a load balancer that follows
// /readyz (a Kubernetes Service), as fast as two visitors can, until
// stopped: every answer but a 302 to the destination is a failure, a
// moment without a ready replica included.
type redirectLoad struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	why          map[string]int
	stop         func()
}

func startRedirectLoad(t *testing.T, app *servedApp, path, want string) *redirectLoad {
	t.Helper()
	rr := newRoundRobin()
	rr.set(&replicaProc{URL: app.URL})
	lb := httptest.NewServer(rr)
	l := &redirectLoad{why: map[string]int{}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				rr.poll()
			}
		}
	})
	client := newRoundRobin().client
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := client.Get(lb.URL + path)
				l.sent.Add(1)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
					l.fail(fmt.Sprintf("%s to %q", resp.Status, resp.Header.Get("Location")))
				}
			}
		})
	}
	l.stop = func() { close(done); wg.Wait(); lb.Close() }
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			l.stop()
		}
	})
	return l
}

func (l *redirectLoad) fail(why string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.why[why]++
	l.mu.Unlock()
}

// storageEvents returns the storage events received, by type.
func storageEvents(h *hookReceiver) map[string][]hookBody {
	out := map[string][]hookBody{}
	for _, b := range h.got() {
		if strings.HasPrefix(b.Type, "storage.") {
			out[b.Type] = append(out[b.Type], b)
		}
	}
	return out
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

// TestServeOutlivesAPostgresOutage stops PostgreSQL under a redirect load
// that follows /readyz: no redirect fails, and the link whose destination
// is down keeps going to its fallback, as last known; /readyz stays 200
// while /readyz/storage fails; the status page shows its last state as
// of when it was read; one storage.unreachable webhook, and one
// storage.reachable once the database is back; and every click made
// meanwhile is in the database after it.
func TestServeOutlivesAPostgresOutage(t *testing.T) {
	pg := pgtest.NewServer(t)
	dsn := pg.DSN(t)
	hook := newHookReceiver(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer down.Close()
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer backup.Close()
	fallback := backup.URL + "/x"
	app := startApp(t, outageConfig(hook.srv.URL, `url: "`+down.URL+`/x", fallback: "`+fallback+`"`), map[string]string{"PG_DSN": dsn, "HOOK_SECRET": hookSecret})
	code := func(path string) int { resp, _ := get(t, "GET", app.URL+path); return resp.StatusCode }
	waitUntil(t, 20*time.Second, "/readyz/storage 200", func() bool { return code("/readyz/storage") == 200 })
	waitUntil(t, 20*time.Second, "/a/x sent to its fallback", func() bool {
		resp, _ := get(t, "HEAD", app.URL+"/a/x") // not a click
		return resp.Header.Get("Location") == fallback
	})
	if resp, body := get(t, "GET", app.URL+"/status"); resp.StatusCode != 200 || strings.Contains(body, "Shown as of") {
		t.Fatalf("GET /status before the outage = %d", resp.StatusCode)
	}
	load := startRedirectLoad(t, app, "/a/x", fallback)
	waitUntil(t, 5*time.Second, "redirects under way", func() bool { return load.sent.Load() > 20 })

	pg.Shutdown()
	waitUntil(t, 10*time.Second, "/readyz/storage 503", func() bool {
		resp, body := get(t, "GET", app.URL+"/readyz/storage")
		return resp.StatusCode == 503 && strings.HasPrefix(body, "storage unavailable: ")
	})
	hook.waitFor(app, 10*time.Second, "storage.unreachable", func(b hookBody) bool { return b.Type == "storage.unreachable" })
	if c := code("/readyz"); c != 200 {
		t.Errorf("/readyz = %d during the outage, want 200", c)
	}
	// The status page's snapshot expires (5 s) during the outage: its
	// rebuild fails, and the last one serves, as of when it was read.
	waitUntil(t, 15*time.Second, "the status page as of its last state", func() bool {
		resp, body := get(t, "GET", app.URL+"/status")
		return resp.StatusCode == 200 && strings.Contains(body, "Shown as of")
	})
	outageRedirects := load.sent.Load()

	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "/readyz/storage 200 again", func() bool { return code("/readyz/storage") == 200 })
	hook.waitFor(app, 10*time.Second, "storage.reachable", func(b hookBody) bool { return b.Type == "storage.reachable" })
	waitUntil(t, 5*time.Second, "more redirects after the outage", func() bool { return load.sent.Load() > outageRedirects+20 })
	load.stop()
	t.Logf("%d redirects, %d failed %v", load.sent.Load(), load.failed.Load(), load.why)
	if load.failed.Load() != 0 {
		t.Errorf("%d of %d redirects failed across the outage: %v", load.failed.Load(), load.sent.Load(), load.why)
	}
	// Every redirect was a click; those of the outage were held, and are
	// written with the next flushes (every 5 s).
	waitUntil(t, 15*time.Second, "every click in the database", func() bool { return clickTotal(t, dsn) == load.sent.Load() })
	events := storageEvents(hook)
	if len(events["storage.unreachable"]) != 1 || len(events["storage.reachable"]) != 1 {
		t.Errorf("storage events %v, want one storage.unreachable and one storage.reachable", events)
	}
	for _, b := range hook.got() {
		if strings.HasPrefix(b.Type, "storage.") && (b.Data.Replica.ID == "" || !strings.HasPrefix(b.Data.Database, "postgres 127.0.0.1:")) {
			t.Errorf("%s names replica %q, database %q", b.Type, b.Data.Replica.ID, b.Data.Database)
		}
	}
	if err := app.stop(t); err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestServeStartsDuringAPostgresOutage: a replica started while its
// PostgreSQL is down serves a 302 from its config as soon as it listens,
// probes nothing until the database answers (it does not know its share
// of the hosts), alerts the outage, and starts the rest once the
// database is back; the clicks of the wait are written then.
func TestServeStartsDuringAPostgresOutage(t *testing.T) {
	pg := pgtest.NewServer(t)
	dsn := pg.DSN(t)
	pg.Shutdown()
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
	// The outage alert comes after 1 s of failed checks: two probe
	// intervals, in which nothing was checked.
	hook.waitFor(app, 10*time.Second, "storage.unreachable", func(b hookBody) bool { return b.Type == "storage.unreachable" })
	if n := checks.Load(); n != 0 {
		t.Errorf("%d checks while the database was out of reach: probing as if alone", n)
	}
	get(t, "GET", app.URL+"/a/x")

	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	hook.waitFor(app, 20*time.Second, "storage.reachable", func(b hookBody) bool { return b.Type == "storage.reachable" })
	waitUntil(t, 10*time.Second, "checks once the database answers", func() bool { return checks.Load() > 0 })
	waitUntil(t, 10*time.Second, "the status page", func() bool { resp, _ := get(t, "GET", app.URL+"/status"); return resp.StatusCode == 200 })
	waitUntil(t, 15*time.Second, "the clicks of the outage in the database", func() bool { return clickTotal(t, dsn) == 2 })
	if err := app.stop(t); err != nil {
		t.Errorf("run: %v", err)
	}
}
