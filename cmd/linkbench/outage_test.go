package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestOutageFlags: a bad flag is a clear error before anything starts.
func TestOutageFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-linkwatch", "/x", "-n", "0"}, "-n must be at least 1"},
		{[]string{"-linkwatch", "/x", "-window", "500ms"}, "-window must be at least 1s"},
		{[]string{"-linkwatch", "/x", "-conns", "0"}, "-conns must be at least 1"},
		{[]string{"-linkwatch", "/x", "-window", "soon"}, "invalid value"},
	} {
		err := runOutage(context.Background(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestWatchReadiness counts each endpoint's answers by status, a refused
// request as an error, until it is told to stop.
func TestWatchReadiness(t *testing.T) {
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			asked.Add(1)
		case "/readyz/storage":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	stop := watchReadiness(context.Background(), srv.URL, time.Millisecond)
	for asked.Load() < 3 {
		time.Sleep(time.Millisecond) // polling the watcher's own progress
	}
	got := stop()
	if !strings.HasPrefix(got["/readyz"], "200×") || !strings.HasPrefix(got["/readyz/storage"], "503×") {
		t.Errorf("answers %q, want only 200 for /readyz and only 503 for /readyz/storage", got)
	}

	srv.Close()
	got = watchReadiness(context.Background(), srv.URL, time.Hour)()
	if got["/readyz"] != "error×1" {
		t.Errorf("a closed server: %q, want one error", got["/readyz"])
	}
}
