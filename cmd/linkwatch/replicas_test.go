package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flipLock is a lock whose holding the test decides.
type flipLock struct {
	held     atomic.Bool
	fail     atomic.Bool
	released atomic.Int32
}

func (l *flipLock) HoldLock(context.Context, string) (bool, error) {
	if l.fail.Load() {
		return false, errors.New("database gone")
	}
	return l.held.Load(), nil
}
func (l *flipLock) ReleaseLock(string) { l.released.Add(1) }

// TestJobsRunOnlyWhileHeld: the singleton jobs start when the lock is
// taken, stop when it is lost or cannot be checked, start again when it is
// back, and the lock is released at shutdown.
func TestJobsRunOnlyWhileHeld(t *testing.T) {
	lock := &flipLock{}
	var mu sync.Mutex
	running, starts := false, 0
	start := func(ctx context.Context) func() {
		mu.Lock()
		running, starts = true, starts+1
		mu.Unlock()
		done := make(chan struct{})
		go func() {
			<-ctx.Done()
			mu.Lock()
			running = false
			mu.Unlock()
			close(done)
		}()
		return func() { <-done }
	}
	state := func() (bool, int) { mu.Lock(); defer mu.Unlock(); return running, starts }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- runWhileHolding(ctx, lock, "jobs", time.Millisecond, start, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitFor := func(what string, want bool, wantStarts int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, s := state()
			if r == want && s == wantStarts {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: running %v after %d starts; want %v after %d", what, r, s, want, wantStarts)
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(20 * time.Millisecond)
	waitFor("another replica holds the lock", false, 0)
	lock.held.Store(true)
	waitFor("the lock taken", true, 1)
	lock.held.Store(false) // our connection died: another replica took it
	waitFor("the lock lost", false, 1)
	lock.held.Store(true)
	waitFor("the lock taken again", true, 2)
	lock.fail.Store(true)
	waitFor("the lock cannot be checked", false, 2)
	lock.fail.Store(false)
	waitFor("the lock checked again", true, 3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r, _ := state(); r || lock.released.Load() != 1 {
		t.Errorf("after shutdown: jobs running %v, lock released %d times", r, lock.released.Load())
	}
}

// TestStopDrainsBeforeClosing: told to stop, serve fails /readyz at once
// while it still redirects, for server.drain_delay, and only then closes
// its listener.
func TestStopDrainsBeforeClosing(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(e2eConfig, "  admin_token: ${ADMIN_TOKEN}\n", "  admin_token: ${ADMIN_TOKEN}\n  drain_delay: 1500ms\n", 1)
	app := startApp(t, cfg, map[string]string{"ADMIN_TOKEN": "e2e-admin-token-0123456789"})
	if resp, _ := get(t, "GET", app.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz before the stop: %d", resp.StatusCode)
	}
	stopped := time.Now()
	app.cancel()
	deadline := stopped.Add(time.Second)
	for {
		resp, body := get(t, "GET", app.URL+"/readyz")
		if resp.StatusCode == http.StatusServiceUnavailable {
			// Whoever reads it learns why: the storage is fine.
			if body != "shutting down\n" {
				t.Errorf("/readyz while draining says %q, want %q", body, "shutting down\n")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz still 200 a second after the stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Still serving visitors while load balancers take it out.
	if resp, _ := get(t, "GET", app.URL+"/ada/go"); resp.StatusCode != http.StatusFound {
		t.Errorf("a redirect while draining: %d, want 302", resp.StatusCode)
	}
	<-app.done
	if took := time.Since(stopped); took < 1500*time.Millisecond {
		t.Errorf("stopped after %s, before the drain delay of 1.5s", took)
	}
	if _, err := noRedirect.Get(app.URL + "/ada/go"); err == nil {
		t.Error("still serving after the stop")
	}
}
