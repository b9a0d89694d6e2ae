package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"

	"linkwatch/alerting/smtptest"
	"linkwatch/storage/sqlite"
)

// postForm posts form values and returns the response and its body.
func postForm(t *testing.T, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	return post(t, u, "application/x-www-form-urlencoded", form.Encode())
}

func post(t *testing.T, u, ctype, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestServeEmailSubscription goes through serve and a real SMTP server on
// loopback, as a visitor does: the form on a page's status, the
// confirmation mail and its page, the incident's opening mail, and the
// one-click unsubscribe (RFC 8058) that deletes the address. Nothing is
// mailed before the confirmation, and the address is in no log line.
func TestServeEmailSubscription(t *testing.T) {
	t.Parallel()
	mails := smtptest.Start(t)
	var failing atomic.Bool
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	defer dest.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := `
server: {addr: "` + addr + `", public_url: "http://` + addr + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false, failure_threshold: 1}
alerts:
  group_interval: 0s
  email: {host: 127.0.0.1, port: ` + strconv.Itoa(mails.Port) + `, security: none, from: status@hub.example}
pages:
  - slug: ada
    title: Ada Lovelace
    links:
      - {slug: shop, url: "` + dest.URL + `/shop"}
  - slug: quiet
    subscribe: false
    links:
      - {slug: x, url: "` + dest.URL + `/x"}
`
	app := startAppAt(t, cfg, nil, addr)
	base := app.URL // addr, or the port serve took instead
	const visitor = "Visitor@Example.com"

	resp, page := get(t, "GET", base+"/status/ada")
	// A browser posts the form only if the page's policy lets it.
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("Content-Security-Policy %q forbids posting the form", csp)
	}
	if !strings.Contains(page, `action="/status/subscribe"`) || !strings.Contains(page, `name="page" value="ada"`) {
		t.Fatalf("/status/ada has no subscription form:\n%s", page)
	}
	if _, quiet := get(t, "GET", base+"/status/quiet"); strings.Contains(quiet, `action="/status/subscribe"`) {
		t.Error("/status/quiet shows the form it turned off")
	}
	if resp, _ := postForm(t, base+"/status/subscribe", url.Values{"email": {"a@b.example"}, "page": {"quiet"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("subscribing to a page whose form is off: %d, want 404", resp.StatusCode)
	}
	// Bad input: a clear error, nothing stored.
	for _, bad := range []string{"not an address", "Bob <bob@example.com>"} {
		resp, body := postForm(t, base+"/status/subscribe", url.Values{"email": {bad}, "page": {"ada"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `aria-invalid="true"`) {
			t.Errorf("email %q: %d, want 400 with the field marked invalid", bad, resp.StatusCode)
		}
	}
	if resp, body := post(t, base+"/api/v2/subscribers.json", "application/json", `{"email": "x@y.example", "page": "nope"}`); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"field":"page"`) {
		t.Errorf("JSON, unknown page: %d %s", resp.StatusCode, body)
	}

	resp, body := postForm(t, base+"/status/subscribe", url.Values{"email": {visitor}, "page": {"ada"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("subscribe: %d\n%s", resp.StatusCode, body)
	}
	// The same answer, by JSON, for an address already pending.
	if resp, body := post(t, base+"/api/v2/subscribers.json", "application/json", `{"email": "visitor@example.com", "page": "ada"}`); resp.StatusCode != http.StatusAccepted || !strings.Contains(body, "message") {
		t.Errorf("JSON subscribe: %d %s", resp.StatusCode, body)
	}
	// The form's limit per client (a burst of 5, the bad ones counted):
	// the sixth request is refused with Retry-After.
	if resp, _ := postForm(t, base+"/status/subscribe", url.Values{"email": {"other@example.com"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("fifth request: %d", resp.StatusCode)
	}
	if resp, _ := postForm(t, base+"/status/subscribe", url.Values{"email": {"third@example.com"}}); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("sixth request: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	waitUntil(t, 10*time.Second, "the confirmation mail", func() bool { return len(mails.To("visitor@example.com")) > 0 })
	db, err := sqlite.Open(context.Background(), app.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	confirm := mails.To("visitor@example.com")[0]
	link := regexp.MustCompile(`http://\S+` + regexp.QuoteMeta(linkwatch.EmailConfirmPath) + `\?token=\S+`).FindString(confirm.Text)
	if link == "" {
		t.Fatalf("no confirmation link:\n%s", confirm.Text)
	}
	// Opening the link (a mail scanner does) confirms nothing: it shows a button.
	resp, body = get(t, "GET", link)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Confirm my subscription") {
		t.Fatalf("confirmation page: %d\n%s", resp.StatusCode, body)
	}
	if s, _ := db.ListEmailSubscribers(context.Background()); len(s) != 2 || s[0].Confirmed() {
		t.Fatalf("after GET: %+v, want two pending subscribers", s)
	}
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)[1]
	if resp, body = postForm(t, base+linkwatch.EmailConfirmPath, url.Values{"token": {token}}); resp.StatusCode != http.StatusOK || !strings.Contains(body, "You are subscribed") {
		t.Fatalf("confirm: %d\n%s", resp.StatusCode, body)
	}
	if n := len(mails.To("visitor@example.com")); n != 1 {
		t.Fatalf("%d mails before any incident after the confirmation, want the confirmation only", n)
	}

	failing.Store(true)
	waitUntil(t, 10*time.Second, "the opening mail", func() bool { return len(mails.To("visitor@example.com")) > 1 })
	opened := mails.To("visitor@example.com")[1]
	if !strings.Contains(opened.Subject, "Investigating") || !strings.Contains(opened.Text, "ada/shop") {
		t.Errorf("opening mail: %q\n%s", opened.Subject, opened.Text)
	}
	unsub := strings.Trim(opened.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(unsub, base+linkwatch.EmailUnsubscribePath) {
		t.Fatalf("List-Unsubscribe %q", unsub)
	}
	// The one-click POST a mail client makes (RFC 8058).
	resp, _ = post(t, unsub, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	if s, err := db.ListEmailSubscribers(context.Background()); err != nil || len(s) != 1 || s[0].Address != "other@example.com" {
		t.Fatalf("after unsubscribing: %v %+v, want the other (pending) address alone", err, s)
	}
	if n := len(mails.To("other@example.com")); n != 1 {
		t.Errorf("the unconfirmed address got %d mails, want its confirmation alone", n)
	}
	if resp, _ := get(t, "GET", unsub); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the unsubscribe link after leaving: %d, want 404", resp.StatusCode)
	}
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(app.stderr.String()), "visitor@") {
		t.Errorf("the address is in the log:\n%s", app.stderr)
	}
}

// TestServeMaintenanceMails goes through serve: a window made through the
// admin API on one page is mailed to that page's confirmed subscriber as
// scheduled, then started and ended as serve's jobs notice them by the
// clock, once each; another page's subscriber gets none.
func TestServeMaintenanceMails(t *testing.T) {
	t.Parallel()
	mails := smtptest.Start(t)
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) }))
	defer dest.Close()
	other := otherHostServer(t, dest.Config.Handler) // quiet's link: on another host than the window's
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const token = "maintenance-test-token-0123456789abcdef"
	cfg := `
server: {addr: "` + addr + `", public_url: "http://` + addr + `", admin_token: "` + token + `"}
storage: {path: DBPATH}
probe: {interval: 200ms, timeout: 150ms, allow_private: [127.0.0.0/8], self_check: false}
alerts:
  email: {host: 127.0.0.1, port: ` + strconv.Itoa(mails.Port) + `, security: none, from: status@hub.example}
pages:
  - slug: ada
    links:
      - {slug: shop, url: "` + dest.URL + `/shop"}
  - slug: quiet
    links:
      - {slug: x, url: "` + other.URL + `/x"}
`
	app := startAppAt(t, cfg, nil, addr)
	base := app.URL // addr, or the port serve took instead
	subscribed(t, app, mails, "ada", "ann@example.com")
	subscribed(t, app, mails, "quiet", "quin@example.com")
	// The host of ada's link: on ada's page, not on quiet's.
	start := time.Now().Add(2 * time.Second).UTC()
	body := `{"title": "Shop upgrade", "component": "host:127.0.0.1", "starts_at": "` + start.Format(time.RFC3339Nano) +
		`", "ends_at": "` + start.Add(2*time.Second).Format(time.RFC3339Nano) + `"}`
	req, _ := http.NewRequest(http.MethodPost, base+"/api/admin/maintenance", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create the window: %d", resp.StatusCode)
	}
	waitUntil(t, 15*time.Second, "three maintenance mails to ann", func() bool { return len(maintenanceMails(mails, "ann@example.com")) >= 3 })
	want := []string{"Scheduled maintenance: Shop upgrade", "Maintenance in progress: Shop upgrade", "Maintenance completed: Shop upgrade"}
	got := maintenanceMails(mails, "ann@example.com")
	if len(got) != len(want) {
		t.Fatalf("ann got %d maintenance mails, want 3", len(got))
	}
	for i, m := range got {
		if !strings.HasSuffix(m.Subject, want[i]) || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("mail %d: %q, List-Unsubscribe-Post %q", i, m.Subject, m.Header.Get("List-Unsubscribe-Post"))
		}
	}
	if n := len(maintenanceMails(mails, "quin@example.com")); n != 0 {
		t.Errorf("quiet's subscriber got %d maintenance mails, want none", n)
	}
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
}

// maintenanceMails returns the maintenance mails that reached addr: a
// check that fails under load (a short probe timeout) may mail an
// incident too.
func maintenanceMails(mails *smtptest.Server, addr string) []smtptest.Mail {
	var out []smtptest.Mail
	for _, m := range mails.To(addr) {
		if strings.Contains(m.Subject, "aintenance") {
			out = append(out, m)
		}
	}
	return out
}

// TestServeMaintenanceCancelledMail goes through serve: a window made
// through the admin API on one page, announced to that page's confirmed
// subscriber, then deleted through the admin API before it starts, is
// mailed to it as cancelled, once.
func TestServeMaintenanceCancelledMail(t *testing.T) {
	t.Parallel()
	mails := smtptest.Start(t)
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) }))
	defer dest.Close()
	// The mails' links name the public URL; nothing here follows them.
	cfg := `
server: {public_url: "https://status.hub.example", admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false}
alerts:
  email: {host: 127.0.0.1, port: ` + strconv.Itoa(mails.Port) + `, security: none, from: status@hub.example}
pages:
  - slug: ada
    links:
      - {slug: shop, url: "` + dest.URL + `/shop"}
`
	app := startApp(t, cfg, nil)
	const ann = "ann@example.com"
	subscribed(t, app, mails, "ada", ann)
	start := time.Now().Add(time.Hour).UTC()
	code, body := adminCall(t, app, "POST", "/api/admin/maintenance", `{"title": "Shop upgrade", "component": "page:ada", "starts_at": "`+
		start.Format(time.RFC3339)+`", "ends_at": "`+start.Add(time.Hour).Format(time.RFC3339)+`"}`)
	if code != http.StatusCreated {
		t.Fatalf("create the window: %d %s", code, body)
	}
	var w struct{ ID int64 }
	if err := json.Unmarshal([]byte(body), &w); err != nil || w.ID == 0 {
		t.Fatalf("the window made: %v %s", err, body)
	}
	waitUntil(t, 10*time.Second, "the scheduled mail", func() bool { return len(maintenanceMails(mails, ann)) == 1 })
	if code, body := adminCall(t, app, "DELETE", fmt.Sprintf("/api/admin/maintenance/%d", w.ID), ""); code/100 != 2 {
		t.Fatalf("delete the window: %d %s", code, body)
	}
	waitUntil(t, 10*time.Second, "the cancelled mail", func() bool { return len(maintenanceMails(mails, ann)) >= 2 })
	if err := app.stop(t); err != nil {
		t.Fatal(err)
	}
	got := maintenanceMails(mails, ann)
	if len(got) != 2 || !strings.HasSuffix(got[0].Subject, "Scheduled maintenance: Shop upgrade") || !strings.HasSuffix(got[1].Subject, "Maintenance cancelled: Shop upgrade") ||
		got[1].Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("maintenance mails %q: want the window scheduled, then cancelled once", subjects)
	}
}

// subscribed makes each of addrs a confirmed email subscriber of page in
// app's database, as a visitor who asked on the form and followed the
// confirmation mail (waited for on mails) is, and returns the database,
// closed when t ends.
func subscribed(t *testing.T, app *servedApp, mails *smtptest.Server, page string, addrs ...string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), app.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	for _, addr := range addrs {
		if err := db.RequestEmailSubscription(ctx, addr, page, linkwatch.MaxPendingEmail); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "the confirmation mail to "+addr, func() bool { return len(mails.To(addr)) == 1 })
		list, err := db.ListEmailSubscribers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list, func(s linkwatch.EmailSubscriber) bool { return s.Address == addr })
		if i < 0 {
			t.Fatalf("%s is not a subscriber: %+v", addr, list)
		}
		if _, err := db.ConfirmEmailSubscriber(ctx, list[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	return db
}
