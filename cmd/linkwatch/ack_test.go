package main

import (
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

// subscriber is a webhook subscription's receiver: it keeps every body
// with its headers, verified once its secret is known (the verification
// event may arrive before the creation's answer is read).
type subscriber struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	s := &subscriber{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies, s.heads = append(s.bodies, body), append(s.heads, r.Header.Clone())
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// verified returns the bodies whose signature verifies with secret.
func (s *subscriber) verified(t *testing.T, secret string) []hookBody {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []hookBody
	for i, raw := range s.bodies {
		if err := v.Verify(raw, s.heads[i]); err != nil {
			t.Errorf("subscription delivery %d: signature: %v", i, err)
			continue
		}
		var b hookBody
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("subscription delivery %d: %v", i, err)
		}
		out = append(out, b)
	}
	return out
}

// TestServeAcknowledgementAlerts goes through serve: an operator
// acknowledging an open incident through the admin API is an
// incident.updated (reason acknowledged, naming who) to every channel: the
// configured webhook (signed, verified with the Standard Webhooks
// library), a webhook subscription, and Slack in bot mode as a reply in
// the incident's thread. A second acknowledgement, and one of the resolved
// incident, are 409 and send nothing.
func TestServeAcknowledgementAlerts(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	dest := newSwitchable(t, &broken)
	hook := newHookReceiver(t)
	slack := newSlackAPI(t)
	sub := newSubscriber(t)
	cfg := `
server: {admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false}
alerts:
  group_interval: 0s
  webhooks:
    - {name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}
  slack: {bot_token: "xoxb-test", channel: "#ops", api_url: "` + slack.srv.URL + `/api/"}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "` + dest.srv.URL + `/shop"}
`
	app := startApp(t, cfg, map[string]string{"HOOK_SECRET": hookSecret})
	code, body := adminCall(t, app, "POST", "/api/admin/subscriptions", `{"url":"`+sub.srv.URL+`/linkwatch"}`)
	var created struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	if code != 201 || json.Unmarshal([]byte(body), &created) != nil || created.Secret == "" {
		t.Fatalf("create subscription: %d %s", code, body)
	}
	waitUntil(t, 15*time.Second, "the subscription verified", func() bool {
		_, body := adminCall(t, app, "GET", fmt.Sprintf("/api/admin/subscriptions/%d", created.ID), "")
		return strings.Contains(body, `"state": "active"`)
	})

	broken.Store(true)
	opened := hook.waitFor(app, 20*time.Second, "the incident opened", func(b hookBody) bool { return b.Type == "incident.opened" })
	id := opened.Data.Incident.ID
	ack := fmt.Sprintf("/api/admin/incidents/%d/ack", id)
	code, body = adminCall(t, app, "POST", ack, `{"by":"alice"}`)
	if code != 200 || !strings.Contains(body, `"acknowledged_by": "alice"`) {
		t.Fatalf("ack: %d %s", code, body)
	}
	acked := hook.waitFor(app, 10*time.Second, "the acknowledgement", func(b hookBody) bool {
		return b.Type == "incident.updated" && b.Data.Reason == "acknowledged"
	})
	if acked.Data.Incident.ID != id || acked.Data.Incident.AcknowledgedBy != "alice" {
		t.Errorf("acknowledgement webhook = %+v, want incident %d acknowledged by alice", acked.Data.Incident, id)
	}
	waitUntil(t, 10*time.Second, "the acknowledgement in the incident's Slack thread", func() bool {
		for _, c := range slack.got() {
			if strings.HasPrefix(c, "chat.postMessage 1700000000.000100 ") && strings.Contains(c, "Acknowledged by alice") {
				return true
			}
		}
		return false
	})
	if code, body := adminCall(t, app, "POST", ack, `{"by":"bob"}`); code != 409 || !strings.Contains(body, "already acknowledged by alice") {
		t.Errorf("second ack: %d %s, want 409", code, body)
	}
	if code, body := adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/resolve", id), `{"by":"alice","note":"shop restarted"}`); code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	if code, body := adminCall(t, app, "POST", ack, `{"by":"carol"}`); code != 409 || !strings.Contains(body, "resolved") {
		t.Errorf("ack of the resolved incident: %d %s, want 409", code, body)
	}
	// An update of the resolved incident: alerts of one incident arrive in
	// the order they were made, so once it is in, anything the refused
	// acknowledgements had sent would be too.
	if code, body := adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/updates", id), `{"status":"resolved","body":"a postmortem follows"}`); code != 201 {
		t.Fatalf("post update: %d %s", code, body)
	}
	hook.waitFor(app, 10*time.Second, "the last update", func(b hookBody) bool { return b.Data.Reason == "update_posted" })
	// The destination still fails: a new incident may open after the
	// resolution. This incident's alerts are the ones in question.
	var seq []string
	for _, b := range hook.got() {
		if b.Data.Incident.ID == id {
			seq = append(seq, b.String())
		}
	}
	key := opened.Data.Incident.Key
	want := []string{"incident.opened " + key, "incident.updated " + key + " (acknowledged)", "incident.resolved " + key, "incident.updated " + key + " (update_posted)"}
	if strings.Join(seq, "\n") != strings.Join(want, "\n") {
		t.Errorf("webhooks:\n%s\nwant:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
	}
	waitUntil(t, 10*time.Second, "the subscription's acknowledgement", func() bool {
		for _, b := range sub.verified(t, created.Secret) {
			if b.Type == "incident.updated" && b.Data.Reason == "acknowledged" && b.Data.Incident.AcknowledgedBy == "alice" {
				return true
			}
		}
		return false
	})
	waitUntil(t, 10*time.Second, "Slack's last update", func() bool {
		return strings.Contains(strings.Join(slack.got(), "\n"), "a postmortem follows")
	})
	acks := 0
	for _, c := range slack.got() {
		if strings.Contains(c, "Acknowledged by") {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("Slack got %d acknowledgements, want 1: %q", acks, slack.got())
	}
}
