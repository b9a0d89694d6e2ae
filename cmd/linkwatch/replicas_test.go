package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

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
		time.Sleep(10 * time.Millisecond) // a poll of a running serve: real time
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
