package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite"
)

const consoleToken = "console-admin-token-0123456789"

// consoleScene: linkwatch with the admin token over a database holding an
// open incident on the shop (which still fails) and a resolved one on the
// blog; the engine carries on from it.
func consoleScene(t *testing.T) *proc {
	t.Helper()
	shopURL := loopbackHost(t, 6, answering("/shop")) + "/shop"
	blogURL := loopbackHost(t, 7, answering()) + "/posts"
	now := time.Now().UTC()
	dir := t.TempDir()
	dbPath := seedDB(t, dir, func(ctx context.Context, db *sqlite.DB) error {
		if _, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: linkwatch.DestKey(shopURL), Kind: linkwatch.KindDestination,
			Title: "acme/shop is down (http_5xx)", Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable at " + shopURL,
			Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: linkwatch.HostOf(shopURL), Targets: []string{shopURL},
			Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: shopURL}},
			StartedAt: now.Add(-10 * time.Minute), UpdatedAt: now},
			Evidence: []linkwatch.Result{{TargetID: shopURL, Kind: linkwatch.TargetDestination, URL: shopURL, Start: now.Add(-10 * time.Minute),
				Status: linkwatch.StatusDown, StatusCode: 503, Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable at " + shopURL}}}); err != nil {
			return err
		}
		_, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: linkwatch.DestKey(blogURL), Kind: linkwatch.KindDestination,
			Title: "acme/blog is down (dns)", Cause: linkwatch.CauseDNS, Summary: "DNS lookup for blog.example: no such host",
			Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor, Targets: []string{blogURL},
			Affected:  []linkwatch.Affected{{Page: "acme", Link: "blog", URL: blogURL}},
			StartedAt: now.Add(-38 * time.Hour), UpdatedAt: now.Add(-37 * time.Hour), ResolvedAt: now.Add(-37 * time.Hour)}})
		return err
	})
	return startServe(t, writeConfig(t, dir, `
server: {public_url: "http://127.0.0.1:9", drain_delay: 0s, admin_token: "${ADMIN_TOKEN}"}
storage: {path: "`+dbPath+`"}
probe: {interval: 600ms, timeout: 500ms, allow_private: [127.0.0.0/8], self_check: false}
pages:
  - slug: acme
    title: Acme
    links:
      - {slug: shop, url: "`+shopURL+`"}
      - {slug: blog, url: "`+blogURL+`"}
`), "ADMIN_TOKEN="+consoleToken)
}

// TestConsoleInBrowser: an operator signs in to the console in Chromium,
// acknowledges the open incident, posts a public update, previews and
// publishes a postmortem, and sees both on /status. Every console page
// (sign-in, incidents, one incident with a preview and with a refused
// form, the audit log, a missing page) has no axe-core violation and no
// horizontal overflow, light and dark, at 360 and 1280 px (look).
func TestConsoleInBrowser(t *testing.T) {
	endToEnd(t)
	axe := axeSource(t)
	chromium(t)
	p := consoleScene(t)
	tab, cancel := context.WithTimeout(browser(t), 5*time.Minute) // a bound on a hung page, not a timed assertion
	defer cancel()

	check := func(t *testing.T, name string) {
		t.Helper()
		t.Run(name, func(t *testing.T) { look(t, tab, axe, "console-"+name, nil) })
	}
	notice := func(text string) chromedp.Action {
		return chromedp.WaitVisible(fmt.Sprintf(`//p[contains(@class, "notice") and contains(., %q)]`, text), chromedp.BySearch)
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(tab, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	run("open the sign-in page", chromedp.Navigate(p.URL+"/admin/"), chromedp.WaitVisible(`#token`, chromedp.ByQuery))
	check(t, "signin")
	run("sign in",
		chromedp.SendKeys(`#name`, "Ada Lovelace", chromedp.ByQuery),
		chromedp.SendKeys(`#token`, consoleToken, chromedp.ByQuery),
		chromedp.Click(`form[action="/admin/signin"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#open-h`, chromedp.ByQuery))
	var location string
	run("read the address", chromedp.Location(&location))
	if strings.Contains(location, consoleToken) || !strings.HasSuffix(location, "/admin/incidents") {
		t.Errorf("signed in at %s", location)
	}
	check(t, "incidents")
	run("open the incident", chromedp.Click(`#open-h + .table-wrap a`, chromedp.ByQuery), chromedp.WaitVisible(`#summary-h`, chromedp.ByQuery))
	run("acknowledge", chromedp.Click(`form[action$="/ack"] button`, chromedp.ByQuery), notice("Acknowledged"))
	run("post an update",
		chromedp.Click(`input[name="visibility"][value="public"]`, chromedp.ByQuery),
		chromedp.SetValue(`#u-status`, "identified", chromedp.ByQuery),
		chromedp.SendKeys(`#u-body`, "The shop's server is out of disk; we are freeing space.", chromedp.ByQuery),
		chromedp.Click(`form[action$="/update"] button`, chromedp.ByQuery), notice("Update posted"))
	run("preview the postmortem",
		chromedp.SendKeys(`#pm-primary`, "The shop's disk filled with logs.", chromedp.ByQuery),
		chromedp.SendKeys(`#pm-why`, "No alert on disk space.", chromedp.ByQuery),
		chromedp.Click(`button[value="preview"]`, chromedp.ByQuery), chromedp.WaitVisible(`#preview-h`, chromedp.ByQuery))
	var preview string
	run("read the preview", chromedp.Text(`.preview .postmortem`, &preview, chromedp.ByQuery))
	if !strings.Contains(preview, "The shop's disk filled with logs.") {
		t.Errorf("the preview shows %q", preview)
	}
	check(t, "incident-preview")
	run("publish", chromedp.Click(`button[value="publish"]`, chromedp.ByQuery), notice("Postmortem published"))
	check(t, "incident")
	// A refused form: resolve without a note (the browser's own check
	// bypassed, as a client without it would send it).
	run("resolve without a note",
		chromedp.Evaluate(`document.querySelector('#r-note').removeAttribute('required'); true`, nil),
		chromedp.Click(`form[action$="/resolve"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#form-error`, chromedp.ByQuery))
	check(t, "incident-refused")
	run("open the audit log", chromedp.Navigate(p.URL+"/admin/audit"), chromedp.WaitVisible(`table`, chromedp.ByQuery))
	var audit string
	run("read the audit log", chromedp.Text(`table`, &audit, chromedp.ByQuery))
	for _, want := range []string{"signin", "incident.acknowledge", "incident.update", "postmortem.publish", "Ada Lovelace"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
	check(t, "audit")
	run("open a missing page", chromedp.Navigate(p.URL+"/admin/nothing"), chromedp.WaitVisible(`.message`, chromedp.ByQuery))
	check(t, "not-found")

	// Visitors see the update and the postmortem (the status page is
	// rebuilt every few seconds).
	waitUntil(t, 30*time.Second, "the update and the postmortem on /status", func() bool {
		_, body := get(t, "GET", p.URL+"/status")
		return strings.Contains(body, "we are freeing space") && strings.Contains(body, "The shop&#39;s disk filled with logs.")
	})
	if strings.Contains(p.stderr.String(), consoleToken) {
		t.Error("the admin token is in linkwatch's log")
	}
}

// consoleClient signs in to a console at base and returns a client with
// its cookie, and the CSRF token of its forms.
func consoleClient(t *testing.T, base string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	waitUntil(t, 30*time.Second, "the console to serve (the replica has reached its database)", func() bool {
		resp, err := c.Get(base + "/admin/signin")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	csrf := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("GET %s = %d: no CSRF token", path, resp.StatusCode)
		}
		return string(m[1])
	}
	resp, err := c.PostForm(base+"/admin/signin", url.Values{"csrf": {csrf("/admin/signin")}, "name": {"ada"}, "token": {replicasAdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in = %d", resp.StatusCode)
	}
	return c, csrf("/admin/audit")
}

// TestConsoleSessionAcrossReplicas: two replicas on one PostgreSQL; a
// session signed in on one is honoured by the other, and once signed out
// on the one, refused by the other. (Idle and absolute expiry on another
// replica: console's TestSessionOnAnotherReplica, on PostgreSQL too, with
// a clock it moves.)
func TestConsoleSessionAcrossReplicas(t *testing.T) {
	endToEnd(t)
	s := newSharedFleet(t)
	a, b := s.start(), s.start()
	c, csrf := consoleClient(t, a.URL)
	// B serves from its config as soon as it listens; its console answers
	// 503 until B has reached and migrated the database.
	waitUntil(t, 30*time.Second, "B's console to serve (B has reached its database)", func() bool {
		resp, err := noRedirect.Get(b.URL + "/admin/signin")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	onB := func() int {
		t.Helper()
		req, _ := http.NewRequest("GET", b.URL+"/admin/audit", nil)
		for _, ck := range c.Jar.Cookies(mustParse(t, a.URL+"/admin/")) {
			req.AddCookie(ck)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := onB(); code != http.StatusOK {
		t.Fatalf("signed in on A, on B = %d, want 200", code)
	}
	resp, err := c.PostForm(a.URL+"/admin/signout", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on A = %d", resp.StatusCode)
	}
	if code := onB(); code != http.StatusSeeOther {
		t.Errorf("signed out on A, on B = %d, want 303 to sign in", code)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
