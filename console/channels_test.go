package console_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch/alerting"
	"linkwatch/console"
	"linkwatch/incidents/admin"
	"linkwatch/storage/sqlite/sqlitetest"
)

// TestChannelsPage: the channels page shows each configured channel's
// state, a channel its receiver switched off with when and why; an
// operator re-enables it and switches another off with a reason, through
// the admin API's call. A forged form (no CSRF token) is 403, a channel
// that is not configured or a missing choice is 400: none changes a
// channel. Every action is in the audit log.
func TestChannelsPage(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clk.Now)
	e := serveOn(t, db.DB, clk, console.Options{Admin: admin.New(db, admin.Options{Token: token, Now: clk.Now, Channels: []string{"slack", "webhook:ops"}})})
	ctx := context.Background()
	if err := db.DisableChannel(ctx, "webhook:ops", "the receiver answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.mustSignIn(e, "Grace")
	page := e.srv.URL + "/admin/channels"
	a := b.do("GET", page, nil)
	for _, want := range []string{`<tr id="channel-slack"><td><code>slack</code></td>`, "Disabled since <time datetime=\"2026-12-07T10:00:00Z\">7 Dec 2026 10:00:00 UTC</time>: the receiver answered 410 Gone",
		`aria-label="Re-enable webhook:ops">Re-enable</button>`, `<label for="reason-slack">Why switch it off</label>`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("page = %d:\n%s", a.code, a.body)
	}
	enabled := func(name string) bool {
		t.Helper()
		st, err := db.ChannelStates(ctx, []string{name})
		if err != nil {
			t.Fatal(err)
		}
		return st[0].Enabled
	}
	csrf := b.csrf(page)
	for _, bad := range []struct {
		form url.Values
		code int
		says string
	}{
		{url.Values{"name": {"webhook:ops"}, "enabled": {"true"}}, http.StatusForbidden, "CSRF token is missing or wrong"},
		{url.Values{"csrf": {"forged"}, "name": {"webhook:ops"}, "enabled": {"true"}}, http.StatusForbidden, "CSRF token is missing or wrong"},
		{url.Values{"csrf": {csrf}, "name": {"webhook:nowhere"}, "enabled": {"true"}}, http.StatusBadRequest, `&#34;webhook:nowhere&#34; is not a configured channel`},
		{url.Values{"csrf": {csrf}, "name": {"webhook:ops"}, "enabled": {"yes"}}, http.StatusBadRequest, "Say whether to switch the channel on or off."},
	} {
		if a := b.do("POST", page, bad.form); a.code != bad.code || !strings.Contains(a.body, bad.says) || enabled("webhook:ops") {
			t.Errorf("%v = %d (want %d saying %q), enabled %v:\n%s", bad.form, a.code, bad.code, bad.says, enabled("webhook:ops"), a.body)
		}
	}
	if a := b.do("POST", page, url.Values{"csrf": {csrf}, "name": {"webhook:ops"}, "enabled": {"true"}}); a.code != http.StatusSeeOther ||
		a.hdr.Get("Location") != "/admin/channels?done=channel-enabled" || !enabled("webhook:ops") {
		t.Fatalf("re-enable = %d to %q", a.code, a.hdr.Get("Location"))
	}
	if a := b.do("POST", page, url.Values{"csrf": {csrf}, "name": {"slack"}, "enabled": {"false"}, "reason": {"noisy during the migration"}}); a.code != http.StatusSeeOther || enabled("slack") {
		t.Fatalf("switch off = %d", a.code)
	}
	if a := b.do("GET", page+"?done=channel-disabled", nil); !strings.Contains(a.body, "The channel is off") || !strings.Contains(a.body, "disabled by an operator: noisy during the migration") {
		t.Errorf("page after switching slack off:\n%s", a.body)
	}
	var got []string
	for _, en := range auditLog(t, db.DB) {
		got = append(got, en.Action+" "+en.Detail+" "+en.Outcome)
	}
	want := []string{"channel.disable slack: noisy during the migration ok", "channel.enable webhook:ops ok",
		`channel.enable webhook:nowhere failed: name: "webhook:nowhere" is not a configured channel (configured: slack, webhook:ops)`, "signin  ok"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestChannelsSendTest: "send test" sends a marked test alert through the
// real webhook sink to a receiver on loopback and shows what it answered:
// delivered when it answers 200, not delivered (with its 500 and its words)
// when it answers 500; both audited. A channel that is not a configured
// sink (a subscription's), or a forged form, sends nothing.
func TestChannelsSendTest(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string // the alerts' reasons, as the receiver read them
	status := http.StatusOK
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body alerting.WebhookBody
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, body.Data.Reason)
		w.WriteHeader(status)
		if status != http.StatusOK {
			fmt.Fprint(w, "receiver down for maintenance")
		}
	}))
	defer recv.Close()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	wh, err := alerting.NewWebhook("ops", recv.URL+"/hook", secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sqlitetest.MustOpen(t)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clk.Now)
	e := serveOn(t, db.DB, clk, console.Options{
		Admin:  admin.New(db, admin.Options{Token: token, Now: clk.Now, Channels: []string{"webhook:ops", "sub:7"}}),
		Tester: alerting.NewTester([]alerting.Sink{wh}, clk.Now),
	})
	b := newBrowser(t)
	b.mustSignIn(e, "Grace")
	page := e.srv.URL + "/admin/channels"
	if a := b.do("GET", page, nil); !strings.Contains(a.body, `aria-label="Send test alert through webhook:ops"`) ||
		strings.Contains(a.body, `aria-label="Send test alert through sub:7"`) {
		t.Fatalf("the page offers a test through the wrong channels:\n%s", a.body)
	}
	csrf := b.csrf(page)
	test := page + "/test"
	for _, bad := range []url.Values{
		{"name": {"webhook:ops"}},                     // no CSRF token
		{"csrf": {csrf}, "name": {"sub:7"}},           // not a configured sink
		{"csrf": {csrf}, "name": {"webhook:nowhere"}}, // not a channel
	} {
		if a := b.do("POST", test, bad); a.code != http.StatusForbidden && a.code != http.StatusBadRequest {
			t.Errorf("%v = %d, want 403 or 400", bad, a.code)
		}
	}
	if a := b.do("POST", test, url.Values{"csrf": {csrf}, "name": {"webhook:ops"}}); a.code != http.StatusOK ||
		!strings.Contains(a.body, "Test alert through <code>webhook:ops</code>: delivered. The receiver answered: HTTP 200 OK") {
		t.Errorf("test to a 200 receiver = %d:\n%s", a.code, a.body)
	}
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	if a := b.do("POST", test, url.Values{"csrf": {csrf}, "name": {"webhook:ops"}}); a.code != http.StatusOK ||
		!strings.Contains(a.body, "not delivered. The receiver answered: HTTP 500 Internal Server Error: receiver down for maintenance") {
		t.Errorf("test to a 500 receiver = %d:\n%s", a.code, a.body)
	}
	mu.Lock()
	if fmt.Sprint(got) != "[test test]" {
		t.Errorf("the receiver got alerts with reasons %v, want two tests and nothing else", got)
	}
	mu.Unlock()
	var audit []string
	for _, en := range auditLog(t, db.DB) {
		if en.Action == "channel.test" {
			audit = append(audit, en.Outcome)
		}
	}
	if len(audit) != 2 || audit[0] == "ok" || audit[1] != "ok" { // newest first
		t.Errorf("audit outcomes of the tests = %q, want a failure (newest) and ok", audit)
	}
}
