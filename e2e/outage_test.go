package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"linkwatch/hub"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestReplicasOutliveAPostgresOutage stops the PostgreSQL of two replicas
// under a redirect load that follows /readyz, and starts a third replica
// during the outage:
//   - no redirect fails, and both replicas stay ready throughout (not one
//     poll of /readyz fails), while /readyz/storage fails on each;
//   - the link whose destination is down goes on to its fallback, as last
//     known; the status page serves its last state "as of" when it read it;
//   - the replica started during the outage redirects from its config as
//     soon as it listens, ready, its storage endpoint failing;
//   - each replica sends one storage.unreachable to the config file's
//     webhook, naming itself (one per replica and outage: see the README's
//     "When the database is out of reach"), and one storage.reachable once
//     the database is back, and no more;
//   - every click made during the outage is held and written once the
//     database is back.
func TestReplicasOutliveAPostgresOutage(t *testing.T) {
	endToEnd(t)
	pg := pgtest.Own(t) // its own server: stopping the package's would stop every test
	dsn := pg.DSN(t)
	hook := newHookReceiver(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer backup.Close()
	fallback := backup.URL + "/x"
	// The outage alert after 1 s of failed storage checks (one a second at
	// that setting), not the default 30 s: the outage need not last long.
	cfgPath := writeConfig(t, t.TempDir(), `
storage: {driver: postgres, dsn: "${PG_DSN}"}
server: {rate_limit: {per_second: 100000, burst: 100000}}
probe: {interval: `+strictInterval.String()+`, timeout: 900ms, self_check: false, allow_private: [127.0.0.0/8]}
alerts:
  database_outage_after: 1s
  webhooks: [{name: ops, url: "`+hook.srv.URL+`", secret: "${HOOK_SECRET}"}]
pages:
  - slug: a
    links:
      - {slug: x, url: "`+down.URL+`/x", fallback: "`+fallback+`"}
`)
	env := []string{"PG_DSN=" + dsn, "HOOK_SECRET=" + hookSecret}
	reps := []*proc{startServe(t, cfgPath, env...), startServe(t, cfgPath, env...)}
	code := func(p *proc, path string) int { resp, _ := get(t, "GET", p.URL+path); return resp.StatusCode }
	for _, p := range reps {
		waitUntil(t, 30*time.Second, p.URL+" sending /a/x to its fallback", func() bool {
			resp, _ := get(t, "HEAD", p.URL+"/a/x") // HEAD: not a click
			return resp.Header.Get("Location") == fallback
		})
		if resp, body := get(t, "GET", p.URL+"/status"); resp.StatusCode != 200 || strings.Contains(body, "Shown as of") {
			t.Fatalf("GET %s/status before the outage = %d, or stale", p.URL, resp.StatusCode)
		}
	}
	rr := newRoundRobin()
	rr.set(reps...)
	load := startRedirectLoad(t, rr, 2, func(int64) string { return "/a/x" }, func(resp *http.Response) string {
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != fallback {
			return resp.Status + " to " + resp.Header.Get("Location")
		}
		return ""
	})
	waitUntil(t, 10*time.Second, "redirects under way", func() bool { return load.sent.Load() > 20 })

	pg.Down(t)
	stopped := time.Now()
	for _, p := range reps {
		waitUntil(t, 10*time.Second, p.URL+"/readyz/storage 503", func() bool {
			resp, body := get(t, "GET", p.URL+"/readyz/storage")
			return resp.StatusCode == 503 && strings.HasPrefix(body, "storage unavailable: ")
		})
	}
	// A replica started now: it cannot read its share, its schema or the
	// open incidents, and redirects from its config at once (to the
	// destination: it knows of no incident), with one click.
	late := startServe(t, cfgPath, env...)
	if resp, _ := get(t, "GET", late.URL+"/a/x"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != down.URL+"/x" {
		t.Errorf("a replica started during the outage: GET /a/x = %d to %q, want 302 to the destination from its config",
			resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]int{"/readyz": 200, "/readyz/storage": 503} {
		if c := code(late, path); c != want {
			t.Errorf("a replica started during the outage: GET %s = %d, want %d", path, c, want)
		}
	}
	all := append(append([]*proc(nil), reps...), late)
	for _, p := range all {
		hook.waitFor(p, 20*time.Second, "storage.unreachable from "+p.URL, func(b hookBody) bool {
			return b.Type == "storage.unreachable" && "http://"+b.Data.Replica.Addr == p.URL
		})
	}
	// The status page's snapshot expires (every 5 s) during the outage:
	// its rebuild fails, and the last one serves, as of when it was read.
	waitUntil(t, 15*time.Second, "the status page as of its last state", func() bool {
		resp, body := get(t, "GET", reps[0].URL+"/status")
		return resp.StatusCode == 200 && strings.Contains(body, "Shown as of")
	})
	// The outage lasts as long as the conditions above took, and no
	// longer: /readyz no longer reads the database at all, so its verdict
	// does not depend on how long the database is away, and the balancer
	// here drops a replica at its first failed poll (100 ms), far stricter
	// than the 15 s for Kubernetes. What does take time (the
	// alert's 1 s threshold, the status page's 5 s snapshot) was waited
	// for above: every storage.unreachable arrived, the page went stale.
	outage := time.Since(stopped)
	outageRedirects := load.sent.Load()

	pg.Up(t)
	for _, p := range all {
		waitUntil(t, 30*time.Second, p.URL+"/readyz/storage 200 again", func() bool { return code(p, "/readyz/storage") == 200 })
		hook.waitFor(p, 20*time.Second, "storage.reachable from "+p.URL, func(b hookBody) bool {
			return b.Type == "storage.reachable" && "http://"+b.Data.Replica.Addr == p.URL
		})
	}
	waitUntil(t, 10*time.Second, "more redirects after the outage", func() bool { return load.sent.Load() > outageRedirects+20 })
	load.stop()
	t.Logf("across a %s PostgreSQL outage: %s", outage.Round(time.Millisecond), load)
	if load.failed.Load() != 0 {
		t.Errorf("redirects failed across the outage: %s", load)
	}
	for _, p := range reps {
		if n := rr.unreadyPolls(p); n != 0 {
			t.Errorf("%s failed /readyz at %d polls: out of the balancer during the outage", p.URL, n)
		}
	}
	// Every redirect was a click (the load's and the late replica's one);
	// those of the outage were held, and are written by the next flushes
	// (every 5 s).
	want := load.sent.Load() + 1
	var total int64
	waitUntil(t, 20*time.Second, "every click in the database", func() bool { total = clickTotal(t, dsn); return total == want })

	// One of each storage event per replica, and no other.
	byReplica := map[string]map[string]int{} // by replica id
	for _, b := range hook.got() {
		if !strings.HasPrefix(b.Type, "storage.") {
			continue
		}
		if !strings.HasPrefix(b.Data.Database, "postgres 127.0.0.1:") {
			t.Errorf("%s names database %q", b.Type, b.Data.Database)
		}
		if byReplica[b.Data.Replica.ID] == nil {
			byReplica[b.Data.Replica.ID] = map[string]int{}
		}
		byReplica[b.Data.Replica.ID][b.Type]++
	}
	if len(byReplica) != len(all) {
		t.Errorf("storage events from %d replicas, want %d: %v", len(byReplica), len(all), byReplica)
	}
	for id, n := range byReplica {
		if n["storage.unreachable"] != 1 || n["storage.reachable"] != 1 || len(n) != 2 {
			t.Errorf("replica %q sent %v, want one storage.unreachable and one storage.reachable", id, n)
		}
	}
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
