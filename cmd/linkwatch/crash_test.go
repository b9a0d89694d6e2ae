package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
	"linkwatch/storage/postgres/pgtest"
)

// TestMain lets the crash test run linkwatch as a real child process (this
// test binary, re-executed), so it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("LINKWATCH_CHILD_ARGS"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, append([]string{"linkwatch"}, strings.Split(args, "\x1f")...), os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	pgtest.Main(m) // stops the throwaway PostgreSQL the tests started
}

func startChild(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), "LINKWATCH_CHILD_ARGS="+strings.Join(args, "\x1f"))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// TestKillNineLosesNothing kills linkwatch with SIGKILL while it writes
// results and delivers alerts, restarts it, and checks that the database is
// intact, no alert is lost and no incident is duplicated.
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) { killNineLosesNothing(t, b) })
	}
}

func killNineLosesNothing(t *testing.T, backend testBackend) {
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
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond) // slow, so the kill lands mid-delivery
		mu.Lock()
		received[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer hook.Close()

	dir := t.TempDir()
	section, env, open := backend.fresh(t, dir)
	var childEnv []string
	for k, v := range env {
		childEnv = append(childEnv, k+"="+v)
	}
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
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("crash-test-secret-0123456789"))
	cfgPath := filepath.Join(dir, "c.yaml")
	mustWrite(t, cfgPath, `
storage: `+section+`
server: {drain_delay: 0s}
probe: {interval: 1s, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false}
alerts:
  webhooks: [{name: ops, url: "`+hook.URL+`", secret: "`+secret+`"}]
pages:
  - slug: p
    links:
`+links.String())
	args := []string{"serve", "-config", cfgPath, "-addr", "127.0.0.1:0"}

	child := startChild(t, childEnv, args...)
	waitUntil(t, 20*time.Second, "a first alert delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) > 0
	})
	time.Sleep(600 * time.Millisecond) // more results and a delivery in flight
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	mu.Lock()
	atKill := len(received)
	mu.Unlock()

	db := open(t)
	if res := integrityCheck(t, db); res != "ok" {
		t.Fatalf("integrity_check after SIGKILL: %s", res)
	}
	before := incidentKeys(t, db)

	child = startChild(t, childEnv, args...)
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
	time.Sleep(2500 * time.Millisecond) // a few more rounds: a duplicate incident would open now
	_ = child.Process.Signal(syscall.SIGTERM)
	_ = child.Wait()

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

// integrityCheck is SQLite's verdict on its file, or "ok" for a backend
// that keeps no file of its own (PostgreSQL: the kill is linkwatch's, the
// server is untouched).
func integrityCheck(t *testing.T, db storage.Store) string {
	t.Helper()
	ic, ok := db.(integrityChecker)
	if !ok {
		return "ok"
	}
	res, err := ic.IntegrityCheck(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// incidentKeys lists every incident's correlation key.
func incidentKeys(t *testing.T, db storage.Store) []string {
	t.Helper()
	list, err := db.ListIncidents(context.Background(), linkwatch.IncidentQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, inc := range list {
		keys = append(keys, inc.Key)
	}
	return keys
}
