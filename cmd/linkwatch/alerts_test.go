package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"linkwatch/alerting"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite/sqlitetest"
)

// TestOutageToWebhook runs the whole product: a destination fails, the
// prober sees it, the engine opens an incident, the dispatcher delivers a
// signed webhook; the destination recovers and the resolution follows.
func TestOutageToWebhook(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	broken.Store(true)
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer dest.Close()

	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("e2e-secret-0123456789abcdef"))
	verifier, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var types []string
	var first map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(body, r.Header); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		types = append(types, m["type"].(string))
		if first == nil {
			first = m
		}
		mu.Unlock()
	}))
	defer hook.Close()

	statsd, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer statsd.Close()
	metricLines := make(chan string, 1024)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := statsd.ReadFrom(buf)
			if err != nil {
				close(metricLines)
				return
			}
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				select {
				case metricLines <- l:
				default:
				}
			}
		}
	}()

	var sentryEvents, checkIns atomic.Int32
	sentrySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"fingerprint":["linkwatch-incident","`) {
			sentryEvents.Add(1)
		}
		if strings.Contains(string(body), `"type":"check_in"`) {
			checkIns.Add(1)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	defer sentrySrv.Close()
	dsn := strings.Replace(sentrySrv.URL, "http://", "http://PUBKEY@", 1) + "/42"

	cfg := `
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false}
alerts:
  sentry: {dsn: "${SENTRY_DSN}"}
  datadog: {addr: "` + statsd.LocalAddr().String() + `", tags: ["env:e2e"]}
  webhooks:
    - {name: ops, url: "` + hook.URL + `/hook/T0KEN", secret: "${HOOK_SECRET}"}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "` + dest.URL + `/shop"}
`
	app := startApp(t, cfg, map[string]string{"HOOK_SECRET": secret, "SENTRY_DSN": dsn})
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			got := strings.Join(types, ",")
			mu.Unlock()
			if strings.Contains(got, want) {
				return
			}
			time.Sleep(50 * time.Millisecond) // a poll of a running serve: real time
		}
		t.Fatalf("no %s webhook within 15s; got %v; stderr:\n%s", want, types, app.stderr)
	}
	waitFor("incident.opened")
	if checkIns.Load() == 0 {
		t.Error("no Sentry Crons check-in at start: a restart would leave a gap")
	}
	mu.Lock()
	data := first["data"].(map[string]any)
	inc := data["incident"].(map[string]any)
	mu.Unlock()
	if inc["cause"] != "http_5xx" || !strings.Contains(inc["summary"].(string), "503") {
		t.Errorf("incident in webhook: %v", inc)
	}
	broken.Store(false)
	waitFor("incident.resolved")
	// A poll of a running serve: real time.
	for deadline := time.Now().Add(10 * time.Second); sentryEvents.Load() < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d incident events reached Sentry, want the opening and the resolution", sentryEvents.Load())
		}
	}
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
	sawResult := false
	for !sawResult {
		select {
		case l := <-metricLines:
			sawResult = strings.HasPrefix(l, "linkwatch.check.results:1|c") && strings.Contains(l, "env:e2e") && strings.Contains(l, "cause:http_5xx")
		case <-time.After(5 * time.Second):
			t.Fatal("no check.results metric with cause:http_5xx reached the DogStatsD listener")
		}
	}
	if strings.Contains(app.stderr.String(), "T0KEN") || strings.Contains(app.stderr.String(), secret) || strings.Contains(app.stderr.String(), "PUBKEY") {
		t.Error("a webhook secret appears in the log")
	}
}

// alerts.slack.api_url points bot mode at a Slack-compatible API: the
// config's URL (without its trailing slash) reaches slack-go.
func TestSlackAPIURLFromConfig(t *testing.T) {
	var mu sync.Mutex
	var paths, auths []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		auths = append(auths, r.Header.Get("Authorization")+r.PostFormValue("token")) // slack-go sends either
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0OPS","ts":"1700000000.000100"}`)
	}))
	defer api.Close()
	cfg, err := config.Parse(t.Context(), []byte(`
probe: {allow_private: [127.0.0.1/32]}
alerts:
  slack: {bot_token: "xoxb-T0KEN", channel: "#ops", api_url: "`+api.URL+`/slack/api"}
`+validPages), "test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	db := sqlitetest.MustOpen(t)
	inc, err := db.Record(t.Context(), incidents.Change{Incident: linkwatch.Incident{Key: "dest:https://go.dev/", Kind: linkwatch.KindDestination,
		Title: "ada/go is down", Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, StartedAt: time.Now(), UpdatedAt: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	sinks, err := newSinks(cfg, db, nil)
	if err != nil || len(sinks) != 1 {
		t.Fatalf("sinks %v, %v", sinks, err)
	}
	err = sinks[0].Send(t.Context(), alerting.Delivery{Alert: linkwatch.Alert{EventID: "ev1", Type: linkwatch.AlertOpened, IncidentID: inc.ID, Incident: inc}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "/slack/api/chat.postMessage" || !strings.Contains(auths[0], "xoxb-T0KEN") {
		t.Errorf("the fake Slack API got %v %v, want one chat.postMessage under /slack/api/", paths, auths)
	}
}

// validPages is the smallest valid pages section, for tests about the
// other sections.
const validPages = `
pages:
  - slug: ada
    links:
      - slug: go
        url: https://go.dev/
`
