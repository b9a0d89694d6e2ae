package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"linkwatch/cmd/linkwatch/web"
)

const slackSigningSecret = "e2e0signing0secret0123456789abcd"

// TestServeSlackActions goes through serve: the incident's Slack message
// carries its buttons; Acknowledge pressed in Slack (a request signed
// with the app's signing secret, to /slack/interactions) acknowledges it
// through the engine, by the Slack user, so the webhook channel gets the
// incident.updated naming them and the Slack message is edited in place;
// the same request again is refused; Resolve resolves it for every
// channel; Acknowledge on the resolved incident is a 200 and an
// ephemeral explanation.
func TestServeSlackActions(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	dest := newSwitchable(t, &broken)
	hook := newHookReceiver(t)
	slack := newSlackAPI(t)
	cfg := `
server: {admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false}
alerts:
  group_interval: 0s
  webhooks:
    - {name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}
  slack: {bot_token: "xoxb-test", channel: "#ops", api_url: "` + slack.srv.URL + `/api/", signing_secret: "${SLACK_SIGNING_SECRET}"}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "` + dest.srv.URL + `/shop"}
`
	app := startApp(t, cfg, map[string]string{"HOOK_SECRET": hookSecret, "SLACK_SIGNING_SECRET": slackSigningSecret})
	broken.Store(true)
	opened := hook.waitFor(app, 20*time.Second, "the incident opened", func(b hookBody) bool { return b.Type == "incident.opened" })
	id := opened.Data.Incident.ID
	waitUntil(t, 10*time.Second, "the Slack message with its buttons", func() bool {
		return slack.find("/api/chat.postMessage", `"action_id":"incident_ack"`, fmt.Sprintf(`"value":"%d"`, id))
	})

	presses := 0
	press := func(action string) (*http.Response, string) {
		presses++
		payload, _ := json.Marshal(map[string]any{
			"type": "block_actions", "trigger_id": "trigger-1", "response_url": slack.srv.URL + "/response",
			"user":      map[string]any{"id": "U0ALICE", "name": "alice"},
			"container": map[string]any{"type": "message", "channel_id": "C0OPS", "message_ts": "1700000000.000100"},
			"actions": []any{map[string]any{"type": "button", "block_id": "incident_actions", "action_id": action, "value": strconv.FormatInt(id, 10),
				"action_ts": fmt.Sprintf("1700000100.%06d", presses)}},
		})
		body := "payload=" + url.QueryEscape(string(payload))
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, []byte(slackSigningSecret))
		fmt.Fprintf(m, "v0:%s:%s", ts, body)
		req, err := http.NewRequest(http.MethodPost, app.URL+"/slack/interactions", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The same request again, as a replay would send it.
		again, _ := http.NewRequest(http.MethodPost, app.URL+"/slack/interactions", strings.NewReader(body))
		again.Header = req.Header.Clone()
		replay, err := http.DefaultClient.Do(again)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(replay.Body)
		replay.Body.Close()
		if replay.StatusCode != http.StatusUnauthorized || !strings.Contains(string(rb), "replay") {
			t.Errorf("%s replayed: %d %q, want 401", action, replay.StatusCode, rb)
		}
		return resp, string(b)
	}

	if resp, body := press("incident_ack"); resp.StatusCode != http.StatusOK {
		t.Fatalf("acknowledge: %d %q", resp.StatusCode, body)
	}
	acked := hook.waitFor(app, 10*time.Second, "the acknowledgement from Slack", func(b hookBody) bool {
		return b.Type == "incident.updated" && b.Data.Reason == "acknowledged"
	})
	if acked.Data.Incident.ID != id || acked.Data.Incident.AcknowledgedBy != "alice (Slack U0ALICE)" {
		t.Errorf("webhook acknowledgement = %+v, want incident %d by alice (Slack U0ALICE)", acked.Data.Incident, id)
	}
	waitUntil(t, 10*time.Second, "the Slack message edited to say who acknowledged it", func() bool {
		return slack.find("/api/chat.update", "ts:[1700000000.000100]", `Acknowledged*\nby alice (Slack U0ALICE)`)
	})

	if resp, body := press("incident_resolve"); resp.StatusCode != http.StatusOK {
		t.Fatalf("resolve: %d %q", resp.StatusCode, body)
	}
	hook.waitFor(app, 10*time.Second, "the resolution from Slack", func(b hookBody) bool {
		return b.Type == "incident.resolved" && b.Data.Incident.ID == id
	})
	waitUntil(t, 10*time.Second, "the Slack message edited to RESOLVED", func() bool {
		return slack.find("/api/chat.update", "ts:[1700000000.000100]", "RESOLVED after")
	})
	code, body := adminCall(t, app, "GET", fmt.Sprintf("/api/admin/incidents/%d", id), "")
	if code != 200 || !strings.Contains(body, "resolved by alice (Slack U0ALICE)") {
		t.Errorf("the incident's timeline: %d %s", code, body)
	}

	if resp, body := press("incident_ack"); resp.StatusCode != http.StatusOK {
		t.Errorf("acknowledge of the resolved incident: %d %q, want 200", resp.StatusCode, body)
	}
	waitUntil(t, 10*time.Second, "the ephemeral explanation", func() bool {
		return slack.find("/response", `"response_type":"ephemeral"`, fmt.Sprintf("incident %d is resolved", id))
	})
}

// TestSlackAppManifest: the manifest in the repo is valid YAML whose
// interactivity request URL is the path serve answers Slack on, with the
// scope every call of the actions needs.
func TestSlackAppManifest(t *testing.T) {
	data, err := os.ReadFile("../../deploy/slack/app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		OAuth struct {
			Scopes struct{ Bot []string } `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled    bool   `yaml:"is_enabled"`
				RequestURL string `yaml:"request_url"`
			} `yaml:"interactivity"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(m.Settings.Interactivity.RequestURL)
	if err != nil || !m.Settings.Interactivity.Enabled || u.Scheme != "https" || u.Path != web.SlackInteractionsPath {
		t.Errorf("interactivity = %+v, want on, at https://.../%s", m.Settings.Interactivity, web.SlackInteractionsPath)
	}
	if !slices.Contains(m.OAuth.Scopes.Bot, "chat:write") {
		t.Errorf("bot scopes %v lack chat:write", m.OAuth.Scopes.Bot)
	}
}
