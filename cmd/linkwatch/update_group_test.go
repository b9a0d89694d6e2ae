package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch/alerting/smtptest"
)

// TestServePostedUpdatesAreOneMessage goes through serve: two public
// updates posted through the admin API within alerts.group_interval reach
// the confirmed email subscriber as one mail carrying both in order, and
// the webhook as one incident.updated whose updates hold both; the
// resolution by hand follows as a mail of its own. Before, each update was
// a mail and a webhook of its own, at once.
func TestServePostedUpdatesAreOneMessage(t *testing.T) {
	t.Parallel()
	mails := smtptest.Start(t)
	var broken atomic.Bool
	dest := newSwitchable(t, &broken)
	hook := newHookReceiver(t)
	// The interval is far above the time two admin calls take on
	// loopback, and the test waits for it once.
	const group = 4 * time.Second
	cfg := `
server: {public_url: "https://status.hub.example", admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false, failure_threshold: 1}
alerts:
  group_interval: ` + group.String() + `
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
	waitUntil(t, 10*time.Second, "the opening mail", func() bool { return len(mails.To(ann)) == 2 })
	start := time.Now()
	for _, u := range []string{`{"status":"identified","body":"The shop's host is restarting."}`, `{"status":"monitoring","body":"It is back; we are watching."}`} {
		if code, body := adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/updates", id), u); code != 201 {
			t.Fatalf("post update: %d %s", code, body)
		}
	}
	if took := time.Since(start); took >= group {
		t.Fatalf("posting the two updates took %s, not within the group interval (%s): the machine is too slow for this test", took, group)
	}
	posted := hook.waitFor(app, 10*time.Second+group, "the grouped update", func(b hookBody) bool { return b.Data.Reason == "update_posted" })
	if len(posted.Data.Updates) != 2 || posted.Data.Updates[0].Status != "identified" || posted.Data.Updates[1].Body != "It is back; we are watching." ||
		posted.Data.Update == nil || posted.Data.Update.Status != "monitoring" {
		t.Errorf("the grouped webhook: update %+v, updates %+v", posted.Data.Update, posted.Data.Updates)
	}
	waitUntil(t, 10*time.Second, "the grouped mail", func() bool { return len(mails.To(ann)) >= 3 })
	broken.Store(false)
	if code, body := adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/resolve", id), `{"by":"alice","note":"Fixed."}`); code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	waitUntil(t, 10*time.Second, "the resolution's mail", func() bool { return len(mails.To(ann)) >= 4 })
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}

	got := mails.To(ann)
	var subjects []string
	for _, m := range got {
		subjects = append(subjects, m.Subject)
	}
	if len(got) != 4 || !strings.Contains(got[2].Subject, "Monitoring") || !strings.Contains(got[3].Subject, "Resolved") {
		t.Fatalf("mails %q: want the confirmation, the opening, one for both updates, the resolution", subjects)
	}
	if !inOrder(got[2].Text, "The shop's host is restarting.", "It is back; we are watching.") {
		t.Errorf("the grouped mail does not carry both updates in order:\n%s", got[2].Text)
	}
	var updates []hookBody
	for _, b := range hook.got() {
		if b.Data.Reason == "update_posted" {
			updates = append(updates, b)
		}
	}
	if len(updates) != 1 {
		t.Errorf("%d update_posted webhooks, want one for both updates", len(updates))
	}
}

// inOrder reports whether text holds each of words, in this order.
func inOrder(text string, words ...string) bool {
	for _, w := range words {
		i := strings.Index(text, w)
		if i < 0 {
			return false
		}
		text = text[i+len(w):]
	}
	return true
}
