package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting/smtptest"
)

// TestServePostmortemMail goes through serve: an incident opens and is
// resolved through the admin API; its postmortem, saved as a draft and
// then published through the admin API, reaches the confirmed email
// subscriber as one mail with its three fields and RFC 8058 headers.
// Publishing it again and editing it send nothing more, and the
// configured webhook never gets it (its schema knows the incident's own
// changes alone).
func TestServePostmortemMail(t *testing.T) {
	t.Parallel()
	mails := smtptest.Start(t)
	var broken atomic.Bool
	dest := newSwitchable(t, &broken)
	hook := newHookReceiver(t)
	// The mails' links name the public URL; nothing here follows them,
	// so it need not be where serve listens (a port chosen, closed and
	// listened on again could be another test's by then).
	const public = "https://status.hub.example"
	cfg := `
server: {public_url: "` + public + `", admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false, failure_threshold: 1}
alerts:
  group_interval: 0s
  webhooks:
    - {name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}
  email: {host: 127.0.0.1, port: ` + strconv.Itoa(mails.Port) + `, security: none, from: status@hub.example}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "` + dest.srv.URL + `/shop"}
`
	app := startApp(t, cfg, map[string]string{"HOOK_SECRET": hookSecret})
	const ann = "ann@example.com"
	subscribed(t, app, mails, "acme", ann)

	broken.Store(true)
	opened := hook.waitFor(app, 20*time.Second, "the incident opened", func(b hookBody) bool { return b.Type == "incident.opened" })
	id := opened.Data.Incident.ID
	broken.Store(false)
	if code, body := adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/resolve", id), `{"by":"alice","note":"shop restarted"}`); code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	hook.waitFor(app, 10*time.Second, "the resolution", func(b hookBody) bool { return b.Type == "incident.resolved" && b.Data.Incident.ID == id })
	pmPath := fmt.Sprintf("/api/admin/incidents/%d/postmortem", id)
	const draft = `"primary_cause": "A full disk.", "contributing_factors": "No log rotation.", "why_not_caught": "No disk alert."`
	for _, body := range []string{
		`{` + draft + `, "published": false}`,
		`{` + draft + `, "published": true}`,
		`{` + draft + `, "published": true}`,
		`{` + draft + `, "notes": "A bigger disk now.", "published": true}`,
	} {
		if code, got := adminCall(t, app, "PUT", pmPath, body); code != 200 {
			t.Fatalf("postmortem %s: %d %s", body, code, got)
		}
	}
	// A public update after them: an incident's alerts reach a channel in
	// the order they were made, so once it is in, anything the edits had
	// sent would be too.
	if code, body := adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/updates", id), `{"status":"resolved","body":"The disk is replaced."}`); code != 201 {
		t.Fatalf("post update: %d %s", code, body)
	}
	hook.waitFor(app, 10*time.Second, "the update", func(b hookBody) bool { return b.Data.Reason == "update_posted" && b.Data.Incident.ID == id })
	waitUntil(t, 10*time.Second, "the update's mail", func() bool {
		for _, m := range mails.To(ann) {
			if strings.Contains(m.Text, "The disk is replaced.") {
				return true
			}
		}
		return false
	})
	var postmortems []smtptest.Mail
	for _, m := range mails.To(ann) {
		if strings.Contains(m.Subject, "Postmortem:") {
			postmortems = append(postmortems, m)
		}
	}
	if len(postmortems) != 1 {
		t.Fatalf("ann got %d postmortem mails, want 1", len(postmortems))
	}
	m := postmortems[0]
	for _, want := range []string{"Primary cause: A full disk.", "Contributing factors: No log rotation.", "Why it wasn't caught: No disk alert.", "acme/shop"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the postmortem mail lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "A bigger disk now.") {
		t.Errorf("the postmortem mail has a later edit:\n%s", m.Text)
	}
	if !strings.HasPrefix(m.Header.Get("List-Unsubscribe"), "<"+public+linkwatch.EmailUnsubscribePath+"?token=") ||
		m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe %q, -Post %q", m.Header.Get("List-Unsubscribe"), m.Header.Get("List-Unsubscribe-Post"))
	}
	for _, b := range hook.got() {
		if strings.Contains(b.Type, "postmortem") {
			t.Errorf("the webhook got %s", b.Type)
		}
	}
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
}
