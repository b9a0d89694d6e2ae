package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// opsConsoleToken is the admin token of TestConsoleOperationsInBrowser.
const opsConsoleToken = "console-e2e-token-0123456789abcdef"

// TestConsoleOperationsInBrowser: in Chromium, an operator signs in to
// the console of a linkwatch process, schedules a recurring maintenance
// window (its form, its CSRF token, as a browser posts them) and sees it
// scheduled for its next occurrence on the Statuspage JSON's
// /api/v2/scheduled-maintenances/upcoming.json; switches a webhook off.
// It makes a webhook subscription, whose secret the answer shows once,
// and an outage of the page's link delivers an alert to it.
// The maintenance page (a recurring window and its occurrence listed),
// the channels page (the webhook off), the replicas page, the
// subscriptions pages and the clicks pages have no
// axe-core violation and no horizontal overflow, light and dark, at 360
// and 1280 px (look).
func TestConsoleOperationsInBrowser(t *testing.T) {
	endToEnd(t)
	axe := axeSource(t)
	chromium(t)
	var shopDown atomic.Bool // switched on for a delivery in the subscription's log
	shopURL := loopbackHost(t, 6, func(w http.ResponseWriter, r *http.Request) {
		if shopDown.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}) + "/shop"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hook.Close)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("console-test-secret-0123456789"))
	dir := t.TempDir()
	p := startServe(t, writeConfig(t, dir, `
server: {admin_token: "`+opsConsoleToken+`", drain_delay: 0s}
storage: {path: "`+filepath.Join(dir, "linkwatch.db")+`"}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.0/8], self_check: false}
alerts:
  webhooks: [{name: ops, url: "`+hook.URL+`", secret: "`+secret+`"}]
pages:
  - slug: acme
    title: Acme
    links:
      - {slug: shop, url: "`+shopURL+`"}
`))
	tab, cancel := context.WithTimeout(browser(t), 3*time.Minute) // a bound on a hung page, not a timed assertion
	defer cancel()
	due := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Minute)
	var notice, upcoming string
	if err := chromedp.Run(tab,
		chromedp.Navigate(p.URL+"/admin/maintenance"), // signed out: to the sign-in form
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#name", "Grace", chromedp.ByID),
		chromedp.SendKeys("#token", opsConsoleToken, chromedp.ByID),
		chromedp.Submit("#token", chromedp.ByID),
		chromedp.WaitVisible("form.signout", chromedp.ByQuery), // signed in, on the first section
		chromedp.Navigate(p.URL+"/admin/maintenance"),
		chromedp.WaitVisible("#r-title", chromedp.ByID),
		chromedp.SendKeys("#r-title", "Nightly backup", chromedp.ByID),
		chromedp.SendKeys("#r-component", "page:acme", chromedp.ByID),
		chromedp.SendKeys("#r-schedule", fmt.Sprintf("%d %d * * *", due.Minute(), due.Hour()), chromedp.ByID),
		chromedp.SendKeys("#r-duration", "30m", chromedp.ByID),
		chromedp.Submit("#r-duration", chromedp.ByID),
		chromedp.WaitVisible(".notice", chromedp.ByQuery),
		chromedp.Text(".notice", &notice, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("chromium: sign in and schedule: %v\n%s", err, p.stderr)
	}
	if notice != "The recurring maintenance window is scheduled." {
		t.Fatalf("notice %q", notice)
	}
	if err := chromedp.Run(tab,
		chromedp.Navigate(p.URL+"/api/v2/scheduled-maintenances/upcoming.json"),
		chromedp.Text("body", &upcoming, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("chromium: upcoming.json: %v", err)
	}
	var got struct {
		ScheduledMaintenances []struct {
			Name, Status string
			ScheduledFor time.Time `json:"scheduled_for"`
			Components   []struct{ Name string }
		} `json:"scheduled_maintenances"`
	}
	if err := json.Unmarshal([]byte(upcoming), &got); err != nil {
		t.Fatalf("upcoming.json %q: %v", upcoming, err)
	}
	if m := got.ScheduledMaintenances; len(m) != 1 || m[0].Name != "Nightly backup" || m[0].Status != "scheduled" || !m[0].ScheduledFor.Equal(due) ||
		len(m[0].Components) != 1 || m[0].Components[0].Name != "Acme" {
		t.Errorf("upcoming.json = %s, want the nightly backup at %s on Acme", upcoming, due)
	}

	// Switch the webhook off in the browser, so its page shows a
	// disabled channel.
	var channelNotice string
	if err := chromedp.Run(tab,
		chromedp.Navigate(p.URL+"/admin/channels"),
		chromedp.WaitVisible("#reason-webhook\\:ops", chromedp.ByQuery),
		chromedp.SendKeys("#reason-webhook\\:ops", "receiver moving", chromedp.ByQuery),
		chromedp.Submit("#reason-webhook\\:ops", chromedp.ByQuery),
		chromedp.WaitVisible(".notice", chromedp.ByQuery),
		chromedp.Text(".notice", &channelNotice, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("chromium: switch the webhook off: %v", err)
	}
	if !strings.HasPrefix(channelNotice, "The channel is off") {
		t.Errorf("notice %q", channelNotice)
	}

	// Make a webhook subscription in the browser: the page that answers
	// shows its secret once; the subscription's page (read again) does not.
	var shown, again string
	if err := chromedp.Run(tab,
		chromedp.Navigate(p.URL+"/admin/subscriptions"),
		chromedp.WaitVisible("#s-url", chromedp.ByID),
		chromedp.SendKeys("#s-url", hook.URL+"/subscriber", chromedp.ByID),
		chromedp.SendKeys("#s-description", "acme team", chromedp.ByID),
		chromedp.SendKeys("#s-pages", "acme", chromedp.ByID),
		chromedp.Submit("#s-url", chromedp.ByID),
		chromedp.WaitVisible("#secret", chromedp.ByID),
		chromedp.Value("#secret", &shown, chromedp.ByID),
		chromedp.Navigate(p.URL+"/admin/subscriptions/1"),
		chromedp.WaitVisible("#since", chromedp.ByID),
		chromedp.OuterHTML("html", &again, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("chromium: make a subscription: %v\n%s", err, p.stderr)
	}
	if !strings.HasPrefix(shown, "whsec_") || strings.Contains(again, shown) {
		t.Errorf("the secret %q is not shown once (or the page read again shows it)", shown)
	}
	// A click on the link, for the clicks page's table.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Get(p.URL + "/acme/shop"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	// The shop goes down, and its incident's alert reaches the
	// subscription (verified by then: its receiver answers 204): the
	// subscription's page is checked with a delivery in its log, not only
	// with the empty log.
	shopDown.Store(true)
	deadline := time.Now().Add(time.Minute) // a bound on a delivery that never comes
	for {
		var rows int
		if err := chromedp.Run(tab, chromedp.Navigate(p.URL+"/admin/subscriptions/1"), chromedp.WaitReady("body"),
			chromedp.Evaluate(`document.querySelectorAll("tr[id^='delivery-']").length`, &rows)); err != nil {
			t.Fatalf("chromium: %v", err)
		}
		if rows > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery to the subscription within a minute of the shop's outage:\n%s", p.stderr)
		}
		time.Sleep(200 * time.Millisecond) // a poll of another process
	}

	for _, page := range []struct{ path, name, shows string }{
		{"/admin/maintenance", "maintenance", "Recurring window #1"},
		{"/admin/channels", "channels", "disabled by an operator: receiver moving"},
		{"/admin/replicas", "replicas", "it runs as one process"},
		{"/admin/subscriptions", "subscriptions", "acme team"},
		{"/admin/subscriptions/1", "subscription", "Redeliver"},
		{"/admin/clicks", "clicks", "Clicks on every link"},
		{"/admin/clicks?link=acme%2Fshop&range=24h", "clicks-link", "Clicks on acme/shop"},
	} {
		t.Run(page.name, func(t *testing.T) {
			var body string
			if err := chromedp.Run(tab, chromedp.Navigate(p.URL+page.path), chromedp.WaitReady("body"),
				chromedp.Text("main", &body, chromedp.ByQuery)); err != nil {
				t.Fatalf("chromium: %v", err)
			}
			if !strings.Contains(body, page.shows) {
				t.Errorf("the page lacks %q:\n%s", page.shows, body)
			}
			// The clicks page's charts are checked as the status page's are.
			look(t, tab, axe, "console-"+page.name, chartsRead)
		})
	}
}
