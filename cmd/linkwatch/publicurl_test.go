package main

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage/sqlite"
)

func TestServedURLs(t *testing.T) {
	t.Parallel()
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	tests := []struct {
		name                 string
		public               string
		set                  bool
		served               net.Addr
		wantPublic, wantSelf string
		wantMismatch         bool
	}{
		{"derived from the listener", "http://localhost:8080", false, tcp("127.0.0.1:9000"), "http://127.0.0.1:9000", "http://127.0.0.1:9000", false},
		{"port 0", "http://127.0.0.1:0", false, tcp("127.0.0.1:41234"), "http://127.0.0.1:41234", "http://127.0.0.1:41234", false},
		{"wildcard", "http://localhost:8080", false, tcp("[::]:8080"), "http://localhost:8080", "http://localhost:8080", false},
		{"agrees", "http://localhost:9000", true, tcp("127.0.0.1:9000"), "http://localhost:9000", "http://localhost:9000", false},
		{"another local port", "http://localhost:8080", true, tcp("127.0.0.1:9000"), "http://localhost:8080", "http://127.0.0.1:9000", true},
		{"loopback IP, default port", "http://127.0.0.1", true, tcp("127.0.0.1:9000"), "http://127.0.0.1", "http://127.0.0.1:9000", true},
		{"a proxy in front", "https://links.example.com", true, tcp("127.0.0.1:9000"), "https://links.example.com", "https://links.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			public, self, mismatch := servedURLs(tt.public, tt.set, tt.served)
			if public != tt.wantPublic || self != tt.wantSelf || (mismatch != "") != tt.wantMismatch {
				t.Errorf("servedURLs(%q, %v, %s) = %q, %q, %q; want %q, %q, mismatch %v",
					tt.public, tt.set, tt.served, public, self, mismatch, tt.wantPublic, tt.wantSelf, tt.wantMismatch)
			}
		})
	}
}

// waitSelfCheckOK waits for a successful self-check of /ada/go: the prober
// reached the hub where it really listens, so no hub incident can open.
func waitSelfCheckOK(t *testing.T, app *servedApp) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), app.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitUntil(t, 15*time.Second, "a successful self-check", func() bool {
		res, err := db.RecentResults(context.Background(), "self:/ada/go", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) == 1 && res[0].Cause != linkwatch.CauseNone {
			t.Fatalf("self-check failed: %s (%s); stderr:\n%s", res[0].Cause, res[0].Summary, app.stderr)
		}
		return len(res) == 1
	})
}

const publicURLConfig = `
storage: {path: DBPATH}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.1/32]}
pages:
  - slug: ada
    links:
      - {slug: go, url: "https://go.dev/"}
`

func statusPageURL(t *testing.T, app *servedApp) string {
	t.Helper()
	_, body := get(t, "GET", app.URL+"/api/v2/status.json")
	var m struct {
		Page struct{ URL string } `json:"page"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	return m.Page.URL
}

func TestPublicURLDefaultsFromTheServedAddress(t *testing.T) {
	t.Parallel()
	app := startApp(t, publicURLConfig, nil) // -addr 127.0.0.1:0
	if got := statusPageURL(t, app); got != app.URL+"/status" {
		t.Errorf("status page URL = %q, want %q (the served address)", got, app.URL+"/status")
	}
	waitSelfCheckOK(t, app)
	if strings.Contains(app.stderr.String(), "public_url names this machine") {
		t.Errorf("a derived public_url was reported as disagreeing:\n%s", app.stderr)
	}
}

func TestPublicURLOnAnotherLocalPort(t *testing.T) {
	t.Parallel()
	// Port 1 on this machine: nothing of ours listens there.
	app := startApp(t, strings.Replace(publicURLConfig, "storage:", "server: {public_url: \"http://localhost:1\"}\nstorage:", 1), nil)
	if got := statusPageURL(t, app); got != "http://localhost:1/status" {
		t.Errorf("status page URL = %q, want the configured public_url's", got)
	}
	waitSelfCheckOK(t, app)
	if n := strings.Count(app.stderr.String(), "public_url names this machine on another port"); n != 1 {
		t.Errorf("the disagreement was logged %d times, want once:\n%s", n, app.stderr)
	}
}
