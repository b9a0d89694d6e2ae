package alerting_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite/sqlitetest"
)

// fakeSlack is Slack's Web API and an incoming webhook on loopback.
type fakeSlack struct {
	mu       sync.Mutex
	calls    []slackCall
	rateOnce bool
	fail     string // an API error to answer with
}

type slackCall struct {
	method  string
	channel string
	ts      string // the message edited, or the thread replied to
	text    string
	blocks  string
	auth    string
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rateOnce {
		f.rateOnce = false
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	body, _ := io.ReadAll(r.Body)
	c := slackCall{method: strings.TrimPrefix(r.URL.Path, "/"), auth: r.Header.Get("Authorization")}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		c.text, _ = m["text"].(string)
		b, _ := json.Marshal(m["blocks"])
		c.blocks = string(b)
	} else {
		v, _ := url.ParseQuery(string(body))
		c.channel, c.text, c.blocks = v.Get("channel"), v.Get("text"), v.Get("blocks")
		c.ts = v.Get("ts") + v.Get("thread_ts")
		if c.auth == "" {
			c.auth = "Bearer " + v.Get("token")
		}
	}
	f.calls = append(f.calls, c)
	w.Header().Set("Content-Type", "application/json")
	if f.fail != "" {
		_, _ = io.WriteString(w, `{"ok":false,"error":"`+f.fail+`"}`)
		return
	}
	if c.method == "webhook" {
		_, _ = io.WriteString(w, "ok")
		return
	}
	_, _ = io.WriteString(w, `{"ok":true,"channel":"C0OPS","ts":"1700000000.000100"}`)
}

func newFakeSlack(t *testing.T) (*fakeSlack, *httptest.Server) {
	t.Helper()
	f := &fakeSlack{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

const slackToken = "xoxb-SECRET-TOKEN"

func TestSlackBotThreadsUpdatesAndEditsParent(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSlack(t)
	db := sqlitetest.MustOpen(t)
	s, err := alerting.NewSlack(alerting.SlackOptions{BotToken: slackToken, Channel: "#ops", APIURL: srv.URL + "/", StatusPageURL: "https://links.example/status", Threads: db})
	if err != nil {
		t.Fatal(err)
	}
	alerting.SetSlackPace(s, time.Millisecond) // not about pacing
	// A real incident row, so the thread reference has something to belong to.
	inc, err := db.Record(context.Background(), incidents.Change{Incident: testAlert(0, linkwatch.AlertOpened).Incident})
	if err != nil {
		t.Fatal(err)
	}
	send := func(typ linkwatch.AlertType, reason string) {
		t.Helper()
		a := testAlert(inc.ID, typ)
		a.Reason = reason
		if err := s.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	send(linkwatch.AlertOpened, "")
	send(linkwatch.AlertOpened, "") // a retry after a crash: must not post again
	send(linkwatch.AlertUpdated, "cause_changed")
	send(linkwatch.AlertResolved, "")
	f.mu.Lock()
	defer f.mu.Unlock()
	var got []string
	for _, c := range f.calls {
		got = append(got, c.method+":"+c.ts)
	}
	want := "chat.postMessage:,chat.postMessage:1700000000.000100,chat.postMessage:1700000000.000100,chat.update:1700000000.000100"
	if strings.Join(got, ",") != want {
		t.Fatalf("calls = %v\nwant %s", got, want)
	}
	first := f.calls[0]
	if first.channel != "#ops" || !strings.Contains(first.text, "Down: acme/shop is down") || !strings.Contains(first.text, "Affected: acme/shop") {
		t.Errorf("opening message: %+v", first)
	}
	if !strings.Contains(first.blocks, "https://links.example/status") || !strings.Contains(first.blocks, "http_5xx") {
		t.Errorf("blocks lack the status page button or the cause: %s", first.blocks)
	}
	if edit := f.calls[3]; !strings.Contains(edit.text, "RESOLVED after 12 minutes") {
		t.Errorf("parent edit: %q", edit.text)
	}
}

// TestSlackBotRepliesAcknowledged: an acknowledgement is a reply in the
// incident's thread naming who is on it, escaped like any text from
// outside.
func TestSlackBotRepliesAcknowledged(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSlack(t)
	db := sqlitetest.MustOpen(t)
	s, err := alerting.NewSlack(alerting.SlackOptions{BotToken: slackToken, Channel: "#ops", APIURL: srv.URL + "/", Threads: db})
	if err != nil {
		t.Fatal(err)
	}
	alerting.SetSlackPace(s, time.Millisecond) // not about pacing
	inc, err := db.Record(context.Background(), incidents.Change{Incident: testAlert(0, linkwatch.AlertOpened).Incident})
	if err != nil {
		t.Fatal(err)
	}
	opened, acked := testAlert(inc.ID, linkwatch.AlertOpened), testAlert(inc.ID, linkwatch.AlertUpdated)
	acked.Reason = string(linkwatch.EventAcknowledged)
	acked.Incident.AcknowledgedAt, acked.Incident.AcknowledgedBy = acked.CreatedAt, "alice <!channel>"
	for _, a := range []linkwatch.Alert{opened, acked} {
		if err := s.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 2 {
		t.Fatalf("calls = %+v", f.calls)
	}
	reply := f.calls[1]
	if reply.method != "chat.postMessage" || reply.ts != "1700000000.000100" ||
		!strings.HasPrefix(reply.text, "👀 Acknowledged by alice &lt;!channel&gt;: acme/shop is down") || strings.Contains(reply.blocks, "<!channel>") {
		t.Errorf("acknowledgement = %+v, want a thread reply naming alice, escaped", reply)
	}
}

func TestSlackWebhookAndErrors(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSlack(t)
	hook := srv.URL + "/webhook"
	s, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: hook})
	if err != nil {
		t.Fatal(err)
	}
	alerting.SetSlackPace(s, time.Millisecond) // not about pacing
	if err := s.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || !strings.Contains(f.calls[0].blocks, "header") {
		t.Fatalf("webhook calls: %+v", f.calls)
	}
	f.rateOnce = true
	err = s.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertResolved)})
	var se *alerting.SendError
	if !errors.As(err, &se) || !se.Retry || se.RetryAfter != 3*time.Second {
		t.Errorf("429: %v (%+v)", err, se)
	}

	bot, _ := alerting.NewSlack(alerting.SlackOptions{BotToken: slackToken, Channel: "#ops", APIURL: srv.URL + "/", Threads: sqlitetest.MustOpen(t)})
	alerting.SetSlackPace(bot, time.Millisecond)
	f.fail = "invalid_auth"
	err = bot.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)})
	if !errors.As(err, &se) || se.Retry {
		t.Errorf("invalid_auth: %v, want a permanent failure", err)
	}
	for _, secret := range []string{slackToken, hook} {
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
}

func TestNewSlackRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []alerting.SlackOptions{{}, {WebhookURL: "https://h/x", BotToken: "t"}, {BotToken: "t"}} {
		if _, err := alerting.NewSlack(o); err == nil {
			t.Errorf("NewSlack(%+v) accepted", o)
		}
	}
}

// An alert for an incident whose link is on its fallback says where its
// visitors are being sent, in the blocks and in the notification text.
func TestSlackSaysWhereVisitorsGo(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSlack(t)
	s, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: srv.URL + "/webhook"})
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(1, linkwatch.AlertOpened)
	a.Incident.Affected[0].Fallback, a.Incident.Affected[0].Diverted = "https://backup.example/shop", true
	if err := s.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
		t.Fatal(err)
	}
	const want = "Visitors of acme/shop are being sent to https://backup.example/shop."
	if len(f.calls) != 1 || !strings.Contains(f.calls[0].text, want) || !strings.Contains(f.calls[0].blocks, want) {
		t.Errorf("message lacks %q: %+v", want, f.calls)
	}
}

// Remote text cannot inject Slack markup: a destination's Location header
// quoted in the summary, a title, an operator's update and link names are
// escaped in every field, the top-level text included (Slack parses it for
// mentions and links as it does the blocks).
func TestSlackEscapesRemoteTextInEveryField(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSlack(t)
	s, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: srv.URL + "/webhook"})
	if err != nil {
		t.Fatal(err)
	}
	injections := []string{"<!channel>", "<!here>", "<https://evil.example/|Click here>", "<@U0ADMIN>", "<#C0GENERAL>"}
	a := testAlert(3, linkwatch.AlertUpdated)
	a.Reason = "cause_changed<!everyone>"
	a.Incident.Title = "acme/shop <!here> is down"
	a.Incident.Summary = "redirect to Location: javascript:<!channel> <https://evil.example/|Click here> (302)"
	a.Update = &linkwatch.Update{Status: linkwatch.StatusIdentified, Body: "we saw <@U0ADMIN> and <#C0GENERAL>"}
	a.Added = []linkwatch.Affected{{Page: "acme", Link: "<!channel>", URL: "https://shop.example/"}}
	a.Incident.Affected = append(a.Incident.Affected, linkwatch.Affected{Page: "<https://evil.example/|x>", Link: "l"})
	if err := s.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 1 {
		t.Fatalf("%d calls", len(f.calls))
	}
	c := f.calls[0]
	for _, inj := range append(injections, "<!everyone>", "<https://evil.example/|x>") {
		if strings.Contains(c.text, inj) {
			t.Errorf("top-level text carries %q raw: %s", inj, c.text)
		}
		if strings.Contains(c.blocks, strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(inj)) || strings.Contains(c.blocks, inj) {
			t.Errorf("blocks carry %q raw: %s", inj, c.blocks)
		}
	}
	if !strings.Contains(c.text, "javascript:&lt;!channel&gt; &lt;https://evil.example/|Click here&gt;") {
		t.Errorf("the summary is not in the text, escaped: %s", c.text)
	}
}

// Two Slack entries, per team, on two Slack servers: each gets only its
// page's incidents and links, threads them in its own channel, and a
// filtered-out alert is settled without a call.
func TestSlackEntriesFilterPerTeamAndThreadPerChannel(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{now: time.Now().UTC()}
	db.SetClock(clk.Now)
	fa, srvA := newFakeSlack(t)
	fb, srvB := newFakeSlack(t)
	teamA, err := alerting.NewSlack(alerting.SlackOptions{Name: "team-a", BotToken: slackToken, Channel: "#acme", APIURL: srvA.URL + "/", Threads: db,
		Filter: linkwatch.Filter{Pages: []string{"acme"}}})
	if err != nil {
		t.Fatal(err)
	}
	alerting.SetSlackPace(teamA, time.Millisecond) // not about pacing
	teamB, err := alerting.NewSlack(alerting.SlackOptions{Name: "team-b", BotToken: slackToken, Channel: "#beta", APIURL: srvB.URL + "/", Threads: db,
		Filter: linkwatch.Filter{Pages: []string{"beta"}, Events: []linkwatch.AlertType{linkwatch.AlertOpened, linkwatch.AlertResolved}}})
	if err != nil {
		t.Fatal(err)
	}
	alerting.SetSlackPace(teamB, time.Millisecond) // not about pacing
	if teamA.Name() != "slack:team-a" || teamB.Name() != "slack:team-b" {
		t.Fatalf("channel names %q, %q", teamA.Name(), teamB.Name())
	}
	d := newDispatcher(t, db, clk, teamA, teamB)
	ctx := context.Background()
	both := hostIncident(t, db, "host:shop.example|http_5xx")
	both.Summary = "updated"
	// Each change is written over the version it was made from.
	both, err = db.Record(ctx, incidents.Change{Incident: both, Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "cause_changed"}})
	if err != nil {
		t.Fatal(err)
	}
	both.Status, both.ResolvedAt = linkwatch.StatusResolved, clk.Now().Add(time.Minute)
	if _, err := db.Record(ctx, incidents.Change{Incident: both, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}}); err != nil {
		t.Fatal(err)
	}
	drain(t, db, d, teamA, teamB)
	calls := func(f *fakeSlack) []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		var out []string
		for _, c := range f.calls {
			out = append(out, c.method+":"+c.channel+":"+c.ts)
		}
		return out
	}
	// Team A: opened, the update in the thread, the resolution in the
	// thread and the parent edited. Team B takes no updates.
	wantA := []string{"chat.postMessage:#acme:", "chat.postMessage:C0OPS:1700000000.000100", "chat.postMessage:C0OPS:1700000000.000100", "chat.update:C0OPS:1700000000.000100"}
	wantB := []string{"chat.postMessage:#beta:", "chat.postMessage:C0OPS:1700000000.000100", "chat.update:C0OPS:1700000000.000100"}
	if got := calls(fa); strings.Join(got, ",") != strings.Join(wantA, ",") {
		t.Errorf("team A calls = %v\nwant %v", got, wantA)
	}
	if got := calls(fb); strings.Join(got, ",") != strings.Join(wantB, ",") {
		t.Errorf("team B calls = %v\nwant %v", got, wantB)
	}
	fa.mu.Lock()
	textA := fa.calls[0].text
	fa.mu.Unlock()
	fb.mu.Lock()
	textB := fb.calls[0].text
	fb.mu.Unlock()
	if !strings.Contains(textA, "acme/shop") || strings.Contains(textA, "beta/") {
		t.Errorf("team A's message: %q", textA)
	}
	if !strings.Contains(textB, "beta/store") || strings.Contains(textB, "acme/") {
		t.Errorf("team B's message: %q", textB)
	}
	for _, ch := range []string{"slack:team-a", "slack:team-b"} {
		if ref, _ := db.ThreadRef(ctx, both.ID, ch); ref == "" {
			t.Errorf("no thread of %s", ch)
		}
	}
	if b, _ := db.OutboxBacklog(ctx); b.Pending != 0 {
		t.Errorf("%d deliveries pending: a filtered-out alert must be settled", b.Pending)
	}
	log, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: "slack:team-b", Limit: 10})
	if len(log) != 2 {
		t.Errorf("team B's log holds %d deliveries, want the 2 it got", len(log))
	}
}
