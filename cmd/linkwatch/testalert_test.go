package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestTestAlert: linkwatch test-alert sends one marked test through each
// channel, the real sink each (signed webhooks, Slack's bot), and prints
// what each receiver answered: a webhook answering 200, one answering
// 500, and Slack's Web API; one failed, so it exits 1. -channel picks
// one; an unknown one is a usage error naming the configured ones.
func TestTestAlert(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []map[string]any
	verifier, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(body, r.Header); err != nil {
			t.Errorf("test webhook signature: %v", err)
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		_, _ = io.WriteString(w, "thanks, got it")
	}))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "receiver exploded\x1b[31m", http.StatusInternalServerError)
	}))
	defer bad.Close()
	slack := newSlackAPI(t)

	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.yaml")
	mustWrite(t, path, `
probe: {allow_private: [127.0.0.1/32]}
alerts:
  slack: {bot_token: "xoxb-test", channel: "#ops", api_url: "`+slack.srv.URL+`/api/"}
  webhooks:
    - {name: good, url: "`+good.URL+`/hook", secret: "${HOOK_SECRET}"}
    - {name: bad, url: "`+bad.URL+`/hook", secret: "${HOOK_SECRET}"}
  datadog: {addr: "127.0.0.1:8125"}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "https://shop.example/"}
`)
	env := func(k string) string {
		if k == "HOOK_SECRET" {
			return hookSecret
		}
		return ""
	}
	testAlert := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"linkwatch", "test-alert", "-config", path}, args...), env, &stdout, &stderr)
		return stdout.String(), err
	}

	out, err := testAlert()
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "1 channel failed") {
		t.Fatalf("err = %v (exit %d), want exit 1 saying one channel failed\n%s", err, exitCode(err), out)
	}
	t.Logf("test-alert printed:\n%s", out)
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, rest, _ := strings.Cut(l, " ")
		lines[name] = strings.TrimSpace(rest)
	}
	for name, want := range map[string][]string{
		"slack":        {"OK", "HTTP 200 OK", `{"ok":true,"channel":"C0OPS"`},
		"webhook:good": {"OK", "HTTP 200 OK: thanks, got it"},
		"webhook:bad":  {"FAILED", "HTTP 500 Internal Server Error: receiver exploded[31m", "(failed: POST http://127.0.0.1:"},
		"datadog":      {"SKIPPED"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[name], w) {
				t.Errorf("%s: %q lacks %q\n%s", name, lines[name], w, out)
			}
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("a receiver's control characters reached the terminal: %q", out)
	}
	mu.Lock()
	if len(got) != 1 || got[0]["type"] != "incident.updated" || !strings.Contains(string(mustJSON(t, got[0])), `"reason":"test"`) ||
		!strings.Contains(string(mustJSON(t, got[0])), "linkwatch test alert: not an incident") {
		t.Errorf("the receiver got %v, want one marked test", got)
	}
	mu.Unlock()
	calls := slack.got()
	if len(calls) != 1 || !strings.HasPrefix(calls[0], "chat.postMessage  ") || !strings.Contains(calls[0], "TEST: linkwatch test alert") {
		t.Errorf("Slack got %q, want one marked message outside any thread", calls)
	}

	if out, err := testAlert("-channel", "webhook:good"); err != nil || strings.Contains(out, "webhook:bad") || !strings.Contains(out, "webhook:good") {
		t.Errorf("-channel webhook:good: %v\n%s", err, out)
	}
	if _, err := testAlert("-channel", "webhook:nope"); err == nil || exitCode(err) != 2 ||
		!strings.Contains(err.Error(), `"webhook:nope" is not configured (configured: slack, webhook:good, webhook:bad)`) {
		t.Errorf("-channel webhook:nope: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
