package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /draining", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "draining", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/readyz", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	closed := httptest.NewServer(mux)
	closed.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stderrIs string
	}{
		{"ready", []string{srv.URL + "/readyz"}, 0, ""},
		{"not ready", []string{srv.URL + "/draining"}, 1, "503 Service Unavailable"},
		{"redirect is not followed", []string{srv.URL + "/moved"}, 1, "302 Found"},
		{"unknown path", []string{srv.URL + "/healthz"}, 1, "404 Not Found"},
		{"nothing listening", []string{closed.URL + "/readyz"}, 1, "connection refused"},
		{"no URL", nil, 2, "usage: healthcheck URL"},
		{"two URLs", []string{srv.URL, srv.URL}, 2, "usage: healthcheck URL"},
		{"not http", []string{"ftp://127.0.0.1/readyz"}, 2, "is not an http or https URL"},
		{"no host", []string{"http:///readyz"}, 2, "is not an http or https URL"},
		{"not a URL", []string{"http://[::1/readyz"}, 2, "is not an http or https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := run(t.Context(), tc.args, &stderr); code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderrIs) || (tc.stderrIs == "") != (stderr.Len() == 0) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderrIs)
			}
		})
	}
}

// TestRunGivesUpOnAHungServer: a replica that accepts and never answers
// is unhealthy once the check's time is up, rather than a check that
// never ends.
func TestRunGivesUpOnAHungServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	var stderr strings.Builder
	if code := run(ctx, []string{srv.URL + "/readyz"}, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "context deadline exceeded") {
		t.Errorf("stderr %q, want the deadline named", stderr.String())
	}
}
