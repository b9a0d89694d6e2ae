package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage/sqlite"
)

// TestServeDoesNotCountChecksNotMade: a host answers one URL with 429 and
// an hour's Retry-After, and would answer its other URL 200. Under serve,
// the checks not made while the host backs off count neither for nor
// against either link: nothing stored, no failure streak, no incident. The
// one 429 actually answered is the only verdict, and one failure is below
// the failure threshold.
func TestServeDoesNotCountChecksNotMade(t *testing.T) {
	t.Parallel()
	var limitedHits, quietHits, steadyHits atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			limitedHits.Add(1)
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		quietHits.Add(1)
	}))
	t.Cleanup(busy.Close)
	// The steady destination, the test's clock, is another host.
	steady := otherHostServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { steadyHits.Add(1) }))
	limited, quiet := busy.URL+"/limited", busy.URL+"/quiet"
	cfg := `
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.0/8], self_check: false, failure_threshold: 2}
pages:
  - slug: ada
    links:
      - {slug: limited, url: "` + limited + `"}
      - {slug: quiet, url: "` + quiet + `"}
      - {slug: steady, url: "` + steady.URL + `/"}
`
	app := startApp(t, cfg, nil)
	waitUntil(t, 10*time.Second, "the 429", func() bool { return limitedHits.Load() > 0 })
	// Five intervals on, every check of the busy host was due four times
	// more, twice the failure threshold; two more for the results to be
	// written (every second) and the engine to have read them.
	from := steadyHits.Load()
	waitUntil(t, 20*time.Second, "seven more intervals", func() bool { return steadyHits.Load() >= from+7 })
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
	if n, q := limitedHits.Load(), quietHits.Load(); n != 1 || q > 1 {
		t.Errorf("the busy host got %d requests for %s and %d for %s; want 1 and at most 1 (before the 429)", n, limited, q, quiet)
	}

	db, err := sqlite.Open(context.Background(), app.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checks, err := db.RecentChecks(context.Background(), []string{limited, quiet}, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := checks[limited]; len(got) != 1 || got[0].Status != linkwatch.StatusDegraded || got[0].Cause != linkwatch.CauseRateLimited {
		t.Errorf("%s: stored %+v, want the one 429 it answered", limited, got)
	}
	for _, r := range checks[quiet] {
		if r.Status != linkwatch.StatusUp {
			t.Errorf("%s: stored %s %s %q, though it was never checked after the 429", quiet, r.Status, r.Cause, r.Summary)
		}
	}
	if keys := incidentKeys(t, db); len(keys) != 0 {
		t.Errorf("incidents %v opened from checks not made", keys)
	}
}

// otherHostServer starts a test server on 127.0.0.2, another host than
// httptest's 127.0.0.1 to the checker, whose back-off and per-host limits
// are a host name's, whatever the port. Configs reaching it allow
// 127.0.0.0/8.
func otherHostServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
