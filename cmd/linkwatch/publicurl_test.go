package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage/sqlite"
)

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
		checks, err := db.RecentChecks(context.Background(), []string{"self:/ada/go"}, time.Time{}, 1)
		res := checks["self:/ada/go"]
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
