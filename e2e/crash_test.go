package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch/storage/postgres/pgtest"
)

// TestKillNineLosesNothing kills linkwatch with SIGKILL while it writes
// results and delivers an alert, restarts it, and checks that the
// database is intact, no alert is lost and no incident is duplicated.
func TestKillNineLosesNothing(t *testing.T) {
	endToEnd(t)
	// The backends at once, each a subtest run by a goroutine (t.Run may
	// be called from several at once): parallel subtests would each wait
	// for one of go test's -parallel slots, held by other tests that wait
	// on clocks.
	var both sync.WaitGroup
	for _, b := range backends {
		both.Go(func() { t.Run(b.name, func(t *testing.T) { killNineLosesNothing(t, b) }) })
	}
	both.Wait()
}

func killNineLosesNothing(t *testing.T, backend backend) {
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/down"):
			http.Error(w, "down", http.StatusInternalServerError)
		case strings.HasPrefix(r.URL.Path, "/gone"):
			http.NotFound(w, r)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer dest.Close()

	var mu sync.Mutex
	received := map[string]int{}
	inFlight := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		mu.Unlock()
		time.Sleep(200 * time.Millisecond) // slow, so the kill lands mid-delivery
		mu.Lock()
		inFlight--
		received[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer hook.Close()

	dir := t.TempDir()
	section, env, open := backend.fresh(t, dir)
	var links strings.Builder
	for i := range 60 {
		path := fmt.Sprintf("/ok/%d", i)
		switch {
		case i < 3:
			path = fmt.Sprintf("/down/%d", i)
		case i < 5:
			path = fmt.Sprintf("/gone/%d", i)
		}
		fmt.Fprintf(&links, "      - {slug: l%d, url: %q}\n", i, dest.URL+path)
	}
	const interval = time.Second
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("crash-test-secret-0123456789"))
	cfgPath := writeConfig(t, dir, `
storage: `+section+`
server: {drain_delay: 0s}
probe: {interval: `+interval.String()+`, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false}
alerts:
  webhooks: [{name: ops, url: "`+hook.URL+`", secret: "`+secret+`"}]
pages:
  - slug: p
    links:
`+links.String())

	child := startServe(t, cfgPath, env...)
	// Killed while a delivery is in flight after a first one landed, with
	// results being written all along.
	waitUntil(t, 30*time.Second, "an alert delivered and another in flight", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) > 0 && inFlight > 0
	})
	child.kill()
	mu.Lock()
	atKill := len(received)
	mu.Unlock()

	db := open(t)
	if res := integrityCheck(t, db); res != "ok" {
		t.Fatalf("integrity_check after SIGKILL: %s", res)
	}
	before := incidentKeys(t, db)

	child = startServe(t, cfgPath, env...)
	waitUntil(t, 30*time.Second, "every outbox alert delivered", func() bool {
		out, err := db.Outbox(context.Background(), 10000)
		if err != nil || len(out) == 0 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range out {
			if received[a.EventID] == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(5 * interval) // a few more rounds: a duplicate incident would open now
	child.stop(t)

	after := incidentKeys(t, db)
	keys := map[string]int{}
	for _, inc := range after {
		keys[inc]++
	}
	for k, n := range keys {
		if n > 1 {
			t.Errorf("incident %s exists %d times after the restart", k, n)
		}
	}
	if len(after) != len(before) || len(before) == 0 {
		t.Errorf("incidents before the kill %v, after the restart %v: the failing destinations must stay the same incidents", before, after)
	}
	if res := integrityCheck(t, db); res != "ok" {
		t.Errorf("integrity_check after restart: %s", res)
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range received {
		dups += n - 1
	}
	t.Logf("%d alerts delivered (%d before the kill), %d duplicates (allowed: at-least-once)", len(received), atKill, dups)
}

// TestKilledSenderResentWithinTheClaim: two replicas on PostgreSQL, one
// destination failing. Each replica posts the webhook channel's alerts to
// a path of its own, so the receiver knows the sender; it holds the first
// delivery, and the test kills its sender with -9 in the middle of the
// send. The killed replica's claim lasts alerting.DefaultClaimLease (from
// the send timeout), by the database's clock; then the other replica sends
// the alert again, with the same webhook-id.
func TestKilledSenderResentWithinTheClaim(t *testing.T) {
	endToEnd(t)
	dsn := pgtest.DSN(t)
	f, urls := newFleet(t, 1, 1)
	f.hosts[0].down.Store(true)
	hook := newHookReceiver(t)
	release := make(chan struct{})
	releaseHeld := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseHeld) // before the receiver closes, which waits for its handlers
	held := make(chan hookBody, 1)
	var holding atomic.Bool
	hook.setAnswer(func(b hookBody) int {
		if !holding.CompareAndSwap(false, true) {
			return http.StatusOK
		}
		held <- b
		<-release // its sender is dead by then
		return http.StatusServiceUnavailable
	})
	const adminToken = "claims-admin-token-0123456789"
	cfgPath := writeConfig(t, t.TempDir(), `
storage: {driver: postgres, dsn: "${PG_DSN}"}
server: {drain_delay: 0s, admin_token: "${ADMIN_TOKEN}"}
probe: {interval: 300ms, timeout: 250ms, self_check: false, allow_private: [127.0.0.0/8]}
alerts:
  group_interval: 0s
  webhooks: [{name: ops, url: "${HOOK_URL}", secret: "${HOOK_SECRET}"}]
pages:
  - slug: p
    links:
      - {slug: l0, url: "`+urls[0]+`"}
`)
	reps := map[string]*proc{}
	for _, name := range []string{"a", "b"} {
		reps[name] = startServe(t, cfgPath, "PG_DSN="+dsn, "ADMIN_TOKEN="+adminToken, "HOOK_SECRET="+hookSecret,
			"HOOK_URL="+hook.srv.URL+"/"+name)
	}
	var first hookBody
	select {
	case first = <-held:
	case <-time.After(60 * time.Second): // a bound on an alert that never comes
		t.Fatalf("no alert within a minute; a's stderr:\n%s\nb's stderr:\n%s", reps["a"].stderr, reps["b"].stderr)
	}
	sender := strings.TrimPrefix(first.Path, "/")
	other := map[string]string{"a": "b", "b": "a"}[sender]
	killed := time.Now()
	reps[sender].kill()
	releaseHeld()
	// The claim began before the kill, so it ends within a claim lease
	// (20 s, alerting.DefaultClaimLease) of it; the other replica's
	// dispatcher looks every second. The bound is the promise, stated here
	// rather than read from the constant it tests, and gives a busy machine
	// 10 s more: far below the 2 minutes claims lasted before.
	const bound = 30 * time.Second
	resent := hook.waitFor(reps[other], bound, "re-sent by the other replica", func(b hookBody) bool {
		return b.Type == first.Type && b.Data.Incident.Key == first.Data.Incident.Key
	})
	t.Logf("%v re-sent %s after the kill of its sender", resent, time.Since(killed).Round(100*time.Millisecond))
	if resent.Path != "/"+other {
		t.Errorf("%v re-sent to %s, want /%s: the killed replica's URL is not the other's", resent, resent.Path, other)
	}
	if resent.ID != first.ID || first.ID == "" {
		t.Errorf("%v re-sent with webhook-id %q, first sent with %q: receivers deduplicate on it", resent, resent.ID, first.ID)
	}
}
