package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch/storage/postgres/pgtest"
)

const clockAdminToken = "clock-admin-token-0123456789abcdef"

// fleetConfig is a config of replicas on the PostgreSQL at
// ${LINKWATCH_TEST_DSN}, checking urls every second.
func fleetConfig(urls []string) string {
	var links strings.Builder
	for i, u := range urls {
		fmt.Fprintf(&links, "      - {slug: l%d, url: %q}\n", i, u)
	}
	return `
server: {public_url: "http://127.0.0.1:9", admin_token: "` + clockAdminToken + `"}
storage: {driver: postgres, dsn: '${LINKWATCH_TEST_DSN}'}
probe: {interval: 1s, timeout: 800ms, self_check: false, allow_private: [127.0.0.0/8]}
pages:
  - slug: p
    links:
` + links.String()
}

// sharing returns how many replicas app's split counts, itself included,
// and the live replicas it lists (GET /api/admin/replicas); ok is false
// when it could not answer (the database is down).
func sharing(app *servedApp) (n int, replicas []string, ok bool) {
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/api/admin/replicas", nil)
	req.Header.Set("Authorization", "Bearer "+clockAdminToken)
	resp, err := noRedirect.Do(req)
	if err != nil {
		return 0, nil, false
	}
	defer resp.Body.Close()
	var body struct {
		Sharing  int                   `json:"sharing"`
		Replicas []struct{ ID string } `json:"replicas"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return 0, nil, false
	}
	for _, r := range body.Replicas {
		replicas = append(replicas, r.ID)
	}
	return body.Sharing, replicas, true
}

// doubleChecks returns, for each of urls checked twice less than half an
// interval apart within [from, to), when: two replicas checked it at once.
func (f *fleet) doubleChecks(urls []string, interval time.Duration, from, to time.Time) map[string][]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]time.Time{}
	for _, u := range urls {
		var last time.Time
		for _, at := range f.hits[u] {
			if at.Before(from) || !at.Before(to) {
				continue
			}
			if !last.IsZero() && at.Sub(last) < interval/2 {
				out[u] = append(out[u], at)
			}
			last = at
		}
	}
	return out
}

// TestSkewedReplicasShareOnce: three replicas on one PostgreSQL, one with
// its clock five minutes behind and one five minutes ahead
// (LINKWATCH_TEST_CLOCK_SKEW). Leases and heartbeats go by the database's
// clock: each lists the other two, each destination is checked once an
// interval, never by two replicas at once, and never left unchecked.
func TestSkewedReplicasShareOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	f, urls := newFleet(t, 6, 2)
	cfg := fleetConfig(urls)
	var apps []*servedApp
	for _, skew := range []string{"", "-5m", "5m"} {
		apps = append(apps, startApp(t, cfg, map[string]string{"LINKWATCH_TEST_DSN": dsn, clockSkewEnv: skew}))
	}
	for _, app := range apps {
		waitUntil(t, 10*time.Second, app.URL+" sharing with the two others", func() bool {
			n, replicas, ok := sharing(app)
			return ok && n == 3 && len(replicas) == 3
		})
	}
	from := time.Now()
	const interval, intervals = time.Second, 5
	time.Sleep(intervals * interval)
	to := time.Now()
	if doubles := f.doubleChecks(urls, interval, from, to); len(doubles) > 0 {
		t.Errorf("destinations checked by two replicas at once: %v", doubles)
	}
	for u, n := range f.checks(urls, from, to) {
		if n < intervals-1 || n > intervals+1 {
			t.Errorf("%s checked %d times in %d intervals", u, n, intervals)
		}
	}
	for _, app := range apps {
		if n, replicas, ok := sharing(app); !ok || n != 3 || len(replicas) != 3 {
			t.Errorf("%s: sharing %d, replicas %v (answered: %v); want 3 and 3: no lease lost", app.URL, n, replicas, ok)
		}
	}
}

// TestDatabaseRestartKeepsTheSplit: the database goes down for four
// seconds, longer than the lease (three intervals of a second), and comes
// back with every session and lock gone. Each replica's first heartbeat
// back finds the other's lease over by the clock and its lock gone; it
// keeps the other for a lease of the time it could see it, so neither
// ever finds itself alone, and no destination is checked by both at once.
func TestDatabaseRestartKeepsTheSplit(t *testing.T) {
	srv := pgtest.Own(t)
	dsn := srv.DSN(t)
	f, urls := newFleet(t, 6, 2)
	cfg := fleetConfig(urls)
	apps := []*servedApp{
		startApp(t, cfg, map[string]string{"LINKWATCH_TEST_DSN": dsn}),
		startApp(t, cfg, map[string]string{"LINKWATCH_TEST_DSN": dsn}),
	}
	for _, app := range apps {
		waitUntil(t, 10*time.Second, app.URL+" sharing with the other", func() bool {
			n, _, ok := sharing(app)
			return ok && n == 2
		})
	}
	// Watch every answer: one that says a replica shares with fewer than
	// two is a replica about to check the other's hosts.
	var mu sync.Mutex
	var alone []string
	var stop atomic.Bool
	var watching sync.WaitGroup
	for _, app := range apps {
		watching.Go(func() {
			for !stop.Load() {
				if n, _, ok := sharing(app); ok && n != 2 {
					mu.Lock()
					alone = append(alone, fmt.Sprintf("%s at %s: sharing %d", app.URL, time.Now().Format("15:04:05.000"), n))
					mu.Unlock()
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	srv.Down(t)
	time.Sleep(4 * time.Second)
	srv.Up(t)
	back := time.Now()
	const interval = time.Second
	for _, app := range apps {
		waitUntil(t, 10*time.Second, app.URL+" answering again", func() bool { _, _, ok := sharing(app); return ok })
	}
	time.Sleep(4 * interval) // past a lease after both are back
	stop.Store(true)
	watching.Wait()
	if len(alone) > 0 {
		t.Errorf("after the database came back, a replica counted fewer than both, %d times; the first: %s", len(alone), alone[0])
	}
	if doubles := f.doubleChecks(urls, interval, back, time.Now()); len(doubles) > 0 {
		t.Errorf("after the database came back, destinations checked by both replicas at once: %v", doubles)
	}
}

// TestClockSkewMustBeADuration: LINKWATCH_TEST_CLOCK_SKEW is a Go
// duration; anything else stops serve with an error naming it, before
// anything is opened.
func TestClockSkewMustBeADuration(t *testing.T) {
	for _, bad := range []string{"abc", "5", "-5 minutes", "1x"} {
		_, err := processClock(func(string) string { return bad })
		if err == nil || !strings.Contains(err.Error(), clockSkewEnv) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s=%q: %v, want an error naming the variable and the value", clockSkewEnv, bad, err)
		}
	}
	now, err := processClock(func(string) string { return "-5m" })
	if err != nil {
		t.Fatal(err)
	}
	if off := time.Until(now()); off > -5*time.Minute+time.Second || off < -5*time.Minute-time.Second {
		t.Errorf("a clock skewed by -5m is %s off", off)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	mustWrite(t, cfgPath, strings.ReplaceAll(e2eConfig, "DBPATH", filepath.Join(dir, "linkwatch.db")))
	env := map[string]string{clockSkewEnv: "soon", "ADMIN_TOKEN": "clock-admin-token-0123456789abcdef"}
	err = run(context.Background(), []string{"linkwatch", "serve", "-config", cfgPath, "-addr", "127.0.0.1:0"},
		func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), clockSkewEnv) {
		t.Errorf("serve with %s=soon: %v, want an error naming it", clockSkewEnv, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "linkwatch.db")); err == nil {
		t.Error("serve opened its database before refusing the skew")
	}
}
