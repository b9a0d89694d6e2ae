package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookSecret signs the webhooks of these tests.
var hookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("trust-secret-0123456789abcdef"))

const trustToken = "trust-admin-token-0123456789"

// hookReceiver is a webhook endpoint that verifies every delivery with the
// Standard Webhooks library and keeps the bodies. answer, when set, picks
// the status for a body (200 otherwise).
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []hookBody
	answer func(hookBody) int
}

type hookBody struct {
	Type string `json:"type"`
	Data struct {
		Reason   string `json:"reason"`
		Incident struct {
			ID             int64    `json:"id"`
			Key            string   `json:"key"`
			AcknowledgedBy string   `json:"acknowledged_by"`
			Kind           string   `json:"kind"`
			Targets        []string `json:"targets"`
			Affected       []struct {
				Page, Link, Fallback string
				Diverted             bool
			} `json:"affected"`
		} `json:"incident"`
		Added   []struct{ Page, Link string }   `json:"added"`
		Update  *struct{ Status, Body string }  `json:"update"`
		Updates []struct{ Status, Body string } `json:"updates"`
	} `json:"data"`
}

func (b hookBody) String() string {
	s := b.Type + " " + b.Data.Incident.Key
	if b.Data.Reason != "" {
		s += " (" + b.Data.Reason + ")"
	}
	return s
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if err := v.Verify(raw, r.Header); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var b hookBody
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.mu.Lock()
		answer := h.answer
		h.mu.Unlock()
		if answer != nil {
			if code := answer(b); code != http.StatusOK {
				w.WriteHeader(code)
				return
			}
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) got() []hookBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookBody(nil), h.bodies...)
}

func (h *hookReceiver) setAnswer(f func(hookBody) int) {
	h.mu.Lock()
	h.answer = f
	h.mu.Unlock()
}

// waitFor waits until a received webhook satisfies match, and returns it.
func (h *hookReceiver) waitFor(app *servedApp, limit time.Duration, what string, match func(hookBody) bool) hookBody {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, b := range h.got() {
			if match(b) {
				return b
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no webhook %s within %s; got %v; stderr:\n%s", what, limit, h.got(), app.stderr)
		}
		time.Sleep(50 * time.Millisecond) // a poll of a running serve: real time
	}
}

// switchable is a loopback destination that can be made to drop every
// connection, as a network that fails does.
type switchable struct {
	srv  *httptest.Server
	down *atomic.Bool
	hits atomic.Int64 // requests received, answered or dropped
}

func newSwitchable(t *testing.T, down *atomic.Bool) *switchable {
	t.Helper()
	s := &switchable{down: down}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if down.Load() {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func adminCall(t *testing.T, app *servedApp, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, app.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+trustToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeProberNetworkDownPagesOnlyForTheProber: every destination and
// the canary stop answering at once. The only alert is prober_offline; no
// destination or host incident opens, and the public page says linkwatch
// cannot check rather than showing an outage. It checks every 600ms: it
// counts rounds, not seconds, and what it asserts of healthy checks is
// only that none pages, which two timeouts in a row (the failure
// threshold) of a loopback destination answering at once would take a
// second of a starved process to break, the canary's checks starved with
// them.
func TestServeProberNetworkDownPagesOnlyForTheProber(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	hook := newHookReceiver(t)
	canary := newSwitchable(t, &down)
	var links strings.Builder
	for i := range 20 {
		d := newSwitchable(t, &down)
		fmt.Fprintf(&links, "      - {slug: l%d, url: %q}\n", i, d.srv.URL+"/x")
	}
	cfg := `
storage: {path: DBPATH}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false, canary: "` + canary.srv.URL + `/"}
alerts:
  webhooks:
    - {name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}
pages:
  - slug: acme
    links:
` + links.String()
	app := startApp(t, cfg, map[string]string{"HOOK_SECRET": hookSecret})
	// rounds waits for n more checks of the canary: n more rounds.
	rounds := func(n int64, what string) {
		t.Helper()
		from := canary.hits.Load()
		waitUntil(t, 30*time.Second, what, func() bool { return canary.hits.Load() >= from+n })
	}
	rounds(3, "a few healthy rounds")
	down.Store(true)
	hook.waitFor(app, 15*time.Second, "prober_offline opened", func(b hookBody) bool {
		return b.Type == "incident.opened" && b.Data.Incident.Kind == "prober_offline"
	})
	_, page := get(t, "GET", app.URL+"/status")
	if !strings.Contains(page, "linkwatch cannot check right now") || strings.Contains(page, "Partial System Outage") {
		t.Error("the status page shows an outage for our own network")
	}
	rounds(6, "rounds enough for any destination incident to open (3 times the failure threshold)")
	down.Store(false)
	hook.waitFor(app, 15*time.Second, "prober_offline resolved", func(b hookBody) bool {
		return b.Type == "incident.resolved" && b.Data.Incident.Kind == "prober_offline"
	})
	rounds(4, "rounds enough for an alert of the outage to go out")
	for _, b := range hook.got() {
		if b.Data.Incident.Kind != "prober_offline" {
			t.Errorf("destination alert while the prober's network was down: %v", b)
		}
	}
}

// TestServeOnCallWorkflow goes through serve with a webhook receiver: an
// outage that starts inside a maintenance window alerts once the window
// ends; an operator's update reaches the receiver with its text; the
// operator resolves it by hand with a note; a receiver that answers 410 is
// switched off, listed, named at restart and switched back on. Every
// step waits for a state reached (an alert, a resolution), so it checks
// every 600ms.
func TestServeOnCallWorkflow(t *testing.T) {
	t.Parallel()
	const interval = 600 * time.Millisecond
	var broken atomic.Bool
	dest := newSwitchable(t, &broken)
	hook := newHookReceiver(t)
	cfg := `
server: {admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: ` + interval.String() + `, timeout: 500ms, allow_private: [127.0.0.1/32], self_check: false}
alerts:
  group_interval: 0s
  webhooks:
    - {name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "` + dest.srv.URL + `/shop"}
`
	env := map[string]string{"HOOK_SECRET": hookSecret}
	app := startApp(t, cfg, env)
	windowEnds := time.Now().Add(5 * interval) // five intervals: the outage starts well inside it
	code, body := adminCall(t, app, "POST", "/api/admin/maintenance", fmt.Sprintf(`{"title":"shop move","component":"page:acme","starts_at":%q,"ends_at":%q}`,
		time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano), windowEnds.UTC().Format(time.RFC3339Nano)))
	if code != 201 {
		t.Fatalf("create maintenance: %d %s", code, body)
	}
	broken.Store(true)
	opened := hook.waitFor(app, 20*time.Second, "opened after the window", func(b hookBody) bool { return b.Type == "incident.opened" })
	if time.Now().Before(windowEnds) {
		t.Fatalf("alerted inside the maintenance window: %v", opened)
	}
	if n := len(hook.got()); n != 1 {
		t.Errorf("%d webhooks, want exactly the one opening: %v", n, hook.got())
	}
	id := opened.Data.Incident.ID

	code, body = adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/updates", id), `{"status":"identified","body":"identified: rolling back"}`)
	if code != 201 {
		t.Fatalf("post update: %d %s", code, body)
	}
	up := hook.waitFor(app, 10*time.Second, "carrying the update", func(b hookBody) bool { return b.Data.Update != nil })
	if up.Data.Update.Body != "identified: rolling back" || up.Data.Update.Status != "identified" {
		t.Errorf("update in webhook = %+v", up.Data.Update)
	}

	code, body = adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/resolve", id), `{"by":"alice","note":"shop decommissioned; link goes next"}`)
	if code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	res := hook.waitFor(app, 10*time.Second, "resolved by hand", func(b hookBody) bool { return b.Type == "incident.resolved" })
	if res.Data.Update == nil || res.Data.Update.Body != "shop decommissioned; link goes next" {
		t.Errorf("resolution in webhook = %+v", res.Data.Update)
	}

	// The receiver goes away for good: 410 switches the channel off. An
	// update of the resolved incident is the next alert it gets.
	hook.setAnswer(func(hookBody) int { return http.StatusGone })
	code, body = adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/updates", id), `{"status":"resolved","body":"the link goes next"}`)
	if code != 201 {
		t.Fatalf("post an update of the resolved incident: %d %s", code, body)
	}
	waitUntil(t, 20*time.Second, "the channel switched off", func() bool {
		_, body := adminCall(t, app, "GET", "/api/admin/channels", "")
		return strings.Contains(body, `"enabled": false`)
	})
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
	broken.Store(false)
	hook.setAnswer(nil)
	app2 := restartApp(t, app, cfg, env)
	waitUntil(t, 5*time.Second, "a start-up warning for the disabled channel", func() bool {
		return strings.Contains(app2.stderr.String(), "alert channel is disabled") && strings.Contains(app2.stderr.String(), "channel=webhook:ops")
	})
	waitUntil(t, 10*time.Second, "the open incident to resolve", func() bool {
		_, body := adminCall(t, app2, "GET", "/api/admin/incidents?open=true", "")
		return strings.Contains(body, `"incidents": []`)
	})
	code, body = adminCall(t, app2, "POST", "/api/admin/channels", `{"name":"webhook:ops","enabled":true}`)
	if code != 200 || !strings.Contains(body, `"enabled": true`) {
		t.Fatalf("re-enable: %d %s", code, body)
	}
	before := len(hook.got())
	broken.Store(true)
	hook.waitFor(app2, 20*time.Second, "after re-enabling", func(b hookBody) bool {
		return len(hook.got()) > before && b.Type == "incident.opened" && b.Data.Incident.ID != id
	})
}

// restartApp runs serve again over the same database and config.
func restartApp(t *testing.T, old *servedApp, cfg string, env map[string]string) *servedApp {
	t.Helper()
	cfg = strings.ReplaceAll(cfg, "DBPATH", old.DBPath)
	return startApp(t, cfg, env)
}
