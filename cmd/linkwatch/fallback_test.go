package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// refusable is a loopback destination that can stop listening, so its
// checks are refused, and listen again on the same port.
type refusable struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func newRefusable(t *testing.T) *refusable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &refusable{t: t, addr: ln.Addr().String()}
	r.serve(ln)
	t.Cleanup(r.refuse)
	return r
}

func (r *refusable) serve(ln net.Listener) {
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "shop")
	})}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// refuse closes the listener and every connection: the next dial is refused.
func (r *refusable) refuse() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		_ = r.srv.Close()
		r.srv = nil
	}
}

// restore listens on the same address again.
func (r *refusable) restore() {
	r.t.Helper()
	var ln net.Listener
	var err error
	waitUntil(r.t, 5*time.Second, "the destination's port to listen again", func() bool {
		ln, err = net.Listen("tcp", r.addr)
		return err == nil
	})
	r.serve(ln)
}

// TestServeFallbackEndToEnd goes through serve: a destination that answers
// is where the link sends visitors; refused, it gets an incident and the
// link sends them to its fallback from the first redirect after the
// incident's alert; back, the link sends them to the destination again.
// The switch is in the alert, the timeline, the page and the status page,
// and the clicks API counts the clicks of each, the fallback's apart.
func TestServeFallbackEndToEnd(t *testing.T) {
	t.Parallel()
	dest := newRefusable(t)
	fallback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "backup") }))
	t.Cleanup(fallback.Close)
	destURL, fallbackURL := "http://"+dest.addr+"/shop", fallback.URL+"/shop"
	hook := newHookReceiver(t)
	cfg := `
server: {admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32]}
alerts:
  group_interval: 0s
  webhooks:
    - {name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}
pages:
  - slug: acme
    links:
      - {slug: shop, title: Shop, url: "` + destURL + `", fallback: "` + fallbackURL + `"}
`
	app := startApp(t, cfg, map[string]string{"HOOK_SECRET": hookSecret})
	var clicks, fallbackClicks int64
	click := func() string {
		t.Helper()
		resp, _ := get(t, "GET", app.URL+"/acme/shop")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET /acme/shop = %d, want 302", resp.StatusCode)
		}
		clicks++
		if resp.Header.Get("Location") == fallbackURL {
			fallbackClicks++
		}
		return resp.Header.Get("Location")
	}
	// switched clicks until the link goes to want, allowing one redirect
	// to the other place: the alert leaves with the commit, and the hub
	// follows the health the engine publishes just after it.
	switched := func(want string) string {
		t.Helper()
		if loc := click(); loc == want {
			return loc
		}
		return click()
	}
	if loc := click(); loc != destURL {
		t.Fatalf("destination up: Location = %q, want %q", loc, destURL)
	}

	dest.refuse()
	opened := hook.waitFor(app, 20*time.Second, "the destination's incident opened", func(b hookBody) bool {
		return b.Type == "incident.opened" && b.Data.Incident.Kind == "destination"
	})
	// The alert goes out after the change is written, and the hub follows
	// the health published right after that write: the next click is on
	// the fallback.
	if loc := switched(fallbackURL); loc != fallbackURL {
		t.Fatalf("after the incident opened: Location = %q, want the fallback %q; stderr:\n%s", loc, fallbackURL, app.stderr)
	}
	if a := opened.Data.Incident.Affected; len(a) != 1 || !a[0].Diverted || a[0].Fallback != fallbackURL {
		t.Errorf("the opening alert's affected links = %+v, want acme/shop diverted to the fallback", a)
	}
	if _, page := get(t, "GET", app.URL+"/acme"); strings.Contains(page, "may be unavailable") {
		t.Errorf("a link on its fallback carries the note:\n%s", page)
	}
	if _, status := get(t, "GET", app.URL+"/status/acme"); !strings.Contains(status, "visitors are being sent to its fallback") {
		t.Errorf("the page's status does not say the link is on its fallback:\n%s", status)
	}

	dest.restore()
	hook.waitFor(app, 20*time.Second, "the destination's incident resolved", func(b hookBody) bool {
		return b.Type == "incident.resolved" && b.Data.Incident.ID == opened.Data.Incident.ID
	})
	if loc := switched(destURL); loc != destURL {
		t.Fatalf("after the incident resolved: Location = %q, want %q", loc, destURL)
	}

	code, body := adminCall(t, app, "GET", fmt.Sprintf("/api/admin/incidents/%d", opened.Data.Incident.ID), "")
	if code != 200 || !strings.Contains(body, `"kind": "fallback_on"`) || !strings.Contains(body, `"kind": "fallback_off"`) ||
		!strings.Contains(body, "visitors of acme/shop are being sent to "+fallbackURL) {
		t.Errorf("the incident's timeline lacks the switches: %d %s", code, body)
	}
	// Every click, the fallback's counted apart, once flushed.
	var report struct {
		Total struct{ Clicks, Fallback int64 }
		Links []struct{ Page, Link string }
	}
	waitUntil(t, 15*time.Second, "the clicks flushed", func() bool {
		code, body := adminCall(t, app, "GET", "/api/admin/clicks?by=hour&page=acme&link=shop", "")
		return code == 200 && json.Unmarshal([]byte(body), &report) == nil && report.Total.Clicks == clicks
	})
	if report.Total.Fallback != fallbackClicks || fallbackClicks == 0 || len(report.Links) != 1 || report.Links[0].Link != "shop" {
		t.Errorf("clicks report = %+v, want %d clicks of acme/shop, %d to the fallback", report, clicks, fallbackClicks)
	}
	req, _ := http.NewRequest("GET", app.URL+"/api/admin/clicks", nil)
	req.Header.Set("Accept", "text/csv")
	req.Header.Set("Authorization", "Bearer "+trustToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csvBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(csvBody), "page,link,start,clicks,fallback\nacme,shop,") || !strings.HasSuffix(string(csvBody), fmt.Sprintf(",%d,%d\n", clicks, fallbackClicks)) {
		t.Errorf("clicks CSV:\n%s", csvBody)
	}
	if resp, _ := get(t, "GET", app.URL+"/api/admin/clicks"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("clicks API without the token: %d, want 401", resp.StatusCode)
	}
	// The hub sending visitors to the fallback is not a wrong redirect.
	for _, b := range hook.got() {
		if b.Data.Incident.Kind != "destination" {
			t.Errorf("an alert other than the destination's: %v", b)
		}
	}
}
