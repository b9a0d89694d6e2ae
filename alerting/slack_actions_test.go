package alerting_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/incidents"
	"linkwatch/incidents/admin"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// slackWeb is Slack's Web API and its response_url on loopback, keeping
// each call's method and body (views.open's and chat.update's included).
type slackWeb struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []webCall
}

type webCall struct{ method, body string }

func newSlackWeb(t *testing.T) *slackWeb {
	t.Helper()
	s := &slackWeb{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body := string(b)
		if v, err := url.ParseQuery(body); err == nil && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			body = fmt.Sprint(v) // a form: decoded, so tests read it as text
		}
		s.mu.Lock()
		s.calls = append(s.calls, webCall{strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api"), "/"), body})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0OPS","ts":"1700000000.000100"}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// take returns the calls made since the last take.
func (s *slackWeb) take() []webCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

// actionsRig is SlackActions over a real SQLite database and the real
// incident engine, with an open and a resolved incident, and Slack's Web
// API faked on loopback.
type actionsRig struct {
	t              *testing.T
	db             *sqlite.DB
	web            *slackWeb
	app            *alerting.Slack
	h              *alerting.SlackActions
	open, resolved int64
	presses        int
}

func newActionsRig(t *testing.T) *actionsRig {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	web := newSlackWeb(t)
	start := time.Now().Add(-time.Hour).UTC()
	var ids []int64
	for i, key := range []string{"dest:https://shop.example/", "dest:https://blog.example/"} {
		inc := linkwatch.Incident{Key: key, Kind: linkwatch.KindDestination, Title: fmt.Sprintf("incident %d <!channel>", i), Cause: linkwatch.CauseHTTP5xx,
			Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Targets: []string{strings.TrimPrefix(key, "dest:")}, StartedAt: start, UpdatedAt: start}
		if i == 1 {
			inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, start.Add(time.Minute)
		}
		saved, err := db.Record(ctx, incidents.Change{Incident: inc})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, saved.ID)
	}
	engine, err := incidents.NewEngine(ctx, incidents.Config{}, db, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan linkwatch.Result)
	done := make(chan struct{})
	go func() { engine.Run(ctx, in); close(done) }()
	t.Cleanup(func() { close(in); <-done })
	app, err := alerting.NewSlack(alerting.SlackOptions{BotToken: slackToken, Channel: "#ops", APIURL: web.srv.URL + "/api/", Threads: db, SigningSecret: signingSecret})
	if err != nil {
		t.Fatal(err)
	}
	h := alerting.NewSlackActions(alerting.SlackActionsOptions{Apps: []*alerting.Slack{app}, Actions: admin.New(db, admin.Options{Operator: engine}), Store: db})
	t.Cleanup(h.Close)
	return &actionsRig{t: t, db: db, web: web, app: app, h: h, open: ids[0], resolved: ids[1]}
}

// sign returns Slack's v0 signature of body at ts with secret.
func sign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// interaction is a Slack interaction request: payload as a form, signed
// at ts with secret ("" leaves it unsigned).
func interaction(payload any, secret string, ts time.Time) *http.Request {
	p, _ := json.Marshal(payload)
	body := "payload=" + url.QueryEscape(string(p))
	r := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		stamp := strconv.FormatInt(ts.Unix(), 10)
		r.Header.Set("X-Slack-Request-Timestamp", stamp)
		r.Header.Set("X-Slack-Signature", sign(secret, stamp, body))
	}
	return r
}

// serve sends r to h and waits for the work it started.
func (g *actionsRig) serve(h *alerting.SlackActions, r *http.Request) (int, string) {
	g.t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	alerting.WaitSlackActions(h)
	return w.Code, w.Body.String()
}

// button is the payload of a press of one of an incident's buttons by
// alice: each press its own (action_ts), as Slack's are.
func (g *actionsRig) button(action string, id int64) map[string]any {
	g.presses++
	return map[string]any{
		"type": "block_actions", "trigger_id": "trigger-1", "response_url": g.web.srv.URL + "/response",
		"user":      map[string]any{"id": "U0ALICE", "name": "alice"},
		"container": map[string]any{"type": "message", "channel_id": "C0OPS", "message_ts": "1700000000.000100"},
		"actions": []any{map[string]any{"type": "button", "block_id": "incident_actions", "action_id": action, "value": strconv.FormatInt(id, 10),
			"action_ts": fmt.Sprintf("1700000000.%06d", g.presses)}},
	}
}

// submit is the payload of a submitted modal: its callback, the
// incident, and each field's value (a selected option for visibility,
// status and publish).
func (g *actionsRig) submit(callback string, id int64, fields map[string]string) map[string]any {
	values := map[string]any{}
	for k, v := range fields {
		a := map[string]any{"type": "plain_text_input", "value": v}
		if k == "visibility" || k == "status" || k == "publish" {
			a = map[string]any{"type": "radio_buttons", "selected_option": map[string]any{"value": v}}
		}
		values[k] = map[string]any{k: a}
	}
	meta, _ := json.Marshal(map[string]any{"incident": id, "channel": "C0OPS", "thread": "1700000000.000100"})
	return map[string]any{
		"type": "view_submission", "user": map[string]any{"id": "U0ALICE", "name": "alice"},
		"view": map[string]any{"callback_id": callback, "private_metadata": string(meta), "state": map[string]any{"values": values}},
	}
}

func (g *actionsRig) incident(id int64) linkwatch.Incident {
	g.t.Helper()
	inc, err := g.db.Incident(context.Background(), id)
	if err != nil {
		g.t.Fatal(err)
	}
	return inc
}

// TestSlackActionsAreVerified: only a request signed with the app's
// signing secret, within five minutes, and never served before (on any
// replica: the nonce is in the database) acts; every other is 401 and
// changes nothing.
func TestSlackActionsAreVerified(t *testing.T) {
	t.Parallel()
	g := newActionsRig(t)
	ack := g.button("incident_ack", g.open)
	now := time.Now()
	for _, tc := range []struct {
		name string
		req  *http.Request
		want string
	}{
		{"unsigned", interaction(ack, "", now), "not signed"},
		{"wrongly signed", interaction(ack, "0123456789abcdef0123456789abcdef", now), "signature is wrong"},
		{"stale", interaction(ack, signingSecret, now.Add(-5*time.Minute-30*time.Second)), "stale"},
		{"from the future", interaction(ack, signingSecret, now.Add(6*time.Minute)), "stale"},
	} {
		if code, body := g.serve(g.h, tc.req); code != http.StatusUnauthorized || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want 401 saying %q", tc.name, code, body, tc.want)
		}
	}
	tampered := interaction(ack, signingSecret, now)
	tampered.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("0", 64))
	if code, _ := g.serve(g.h, tampered); code != http.StatusUnauthorized {
		t.Errorf("a signature of zeros: %d, want 401", code)
	}
	if inc := g.incident(g.open); inc.AcknowledgedBy != "" {
		t.Fatalf("a refused request acknowledged the incident: %+v", inc)
	}

	good := interaction(ack, signingSecret, now)
	replay := good.Clone(context.Background())
	body, _ := io.ReadAll(good.Body)
	good.Body, replay.Body = io.NopCloser(strings.NewReader(string(body))), io.NopCloser(strings.NewReader(string(body)))
	if code, body := g.serve(g.h, good); code != http.StatusOK {
		t.Fatalf("signed request: %d %q", code, body)
	}
	if inc := g.incident(g.open); inc.AcknowledgedBy != "alice (Slack U0ALICE)" {
		t.Fatalf("acknowledged by %q, want alice (Slack U0ALICE)", inc.AcknowledgedBy)
	}
	// The same request to another replica (another handler over the same
	// database) is a replay.
	other := alerting.NewSlackActions(alerting.SlackActionsOptions{Apps: []*alerting.Slack{g.app}, Actions: failingActions{t}, Store: g.db})
	defer other.Close()
	if code, body := g.serve(other, replay); code != http.StatusUnauthorized || !strings.Contains(body, "replay") {
		t.Errorf("replayed request: %d %q, want 401 saying replay", code, body)
	}
	ev, _ := g.db.IncidentEvents(context.Background(), g.open)
	acks := 0
	for _, e := range ev {
		if e.Kind == linkwatch.EventAcknowledged {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("%d acknowledgements, want 1", acks)
	}
	// Before the engine runs, and without an app, nothing is verified or
	// done.
	off := alerting.NewSlackActions(alerting.SlackActionsOptions{})
	if code, body := g.serve(off, interaction(ack, signingSecret, now)); code != http.StatusNotFound || !strings.Contains(body, "alerts.slack.signing_secret") {
		t.Errorf("no app: %d %q", code, body)
	}
	waiting := alerting.NewSlackActions(alerting.SlackActionsOptions{Apps: []*alerting.Slack{g.app}})
	if code, _ := g.serve(waiting, interaction(ack, signingSecret, now)); code != http.StatusServiceUnavailable {
		t.Errorf("no engine yet: %d, want 503", code)
	}
	for _, bad := range []string{"", "payload=", "payload=%7Bnot+json", "nopayload=1"} {
		r := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(bad))
		stamp := strconv.FormatInt(now.Unix(), 10)
		r.Header.Set("X-Slack-Request-Timestamp", stamp)
		r.Header.Set("X-Slack-Signature", sign(signingSecret, stamp, bad))
		if code, _ := g.serve(g.h, r); code != http.StatusBadRequest {
			t.Errorf("body %q: %d, want 400", bad, code)
		}
	}
}

// failingActions fails the test if any action is taken.
type failingActions struct{ t *testing.T }

func (f failingActions) Acknowledge(context.Context, int64, string) (linkwatch.Incident, error) {
	f.t.Error("the engine was asked to acknowledge")
	return linkwatch.Incident{}, nil
}

func (f failingActions) Resolve(context.Context, int64, string, string) (linkwatch.Incident, error) {
	f.t.Error("the engine was asked to resolve")
	return linkwatch.Incident{}, nil
}

func (f failingActions) PostUpdate(context.Context, int64, string, linkwatch.IncidentStatus, string) (linkwatch.Update, error) {
	f.t.Error("the engine was asked to post an update")
	return linkwatch.Update{}, nil
}

func (f failingActions) PostNote(context.Context, int64, string, string) (linkwatch.Event, error) {
	f.t.Error("the engine was asked to add a note")
	return linkwatch.Event{}, nil
}

func (f failingActions) EditPostmortem(context.Context, int64, linkwatch.Postmortem) (linkwatch.Incident, error) {
	f.t.Error("the postmortem was edited")
	return linkwatch.Incident{}, nil
}

// TestSlackActionButtons: each button through the engine, by the Slack
// user; Post update and Write postmortem open their modal with the
// trigger id; a refused action (acknowledged already, a resolved or
// unknown incident) is explained to the user alone through response_url,
// and the request is still a 200, never a 500.
func TestSlackActionButtons(t *testing.T) {
	t.Parallel()
	g := newActionsRig(t)
	press := func(action string, id int64) []webCall {
		t.Helper()
		if code, body := g.serve(g.h, interaction(g.button(action, id), signingSecret, time.Now())); code != http.StatusOK {
			t.Fatalf("%s on %d: %d %q", action, id, code, body)
		}
		return g.web.take()
	}
	ephemeral := func(calls []webCall, want string) {
		t.Helper()
		if len(calls) != 1 || calls[0].method != "response" || !strings.Contains(calls[0].body, `"response_type":"ephemeral"`) ||
			!strings.Contains(calls[0].body, `"replace_original":false`) || !strings.Contains(calls[0].body, want) {
			t.Errorf("calls = %+v, want one ephemeral answer saying %q", calls, want)
		}
	}

	if calls := press("incident_ack", g.open); len(calls) != 0 {
		t.Errorf("acknowledge answered %+v, want nothing (the alert updates the message)", calls)
	}
	if by := g.incident(g.open).AcknowledgedBy; by != "alice (Slack U0ALICE)" {
		t.Errorf("acknowledged by %q", by)
	}
	ephemeral(press("incident_ack", g.open), "already acknowledged by alice (Slack U0ALICE)")

	for action, callback := range map[string]string{"incident_update": "incident_update", "incident_postmortem": "incident_postmortem"} {
		calls := press(action, g.open)
		if len(calls) != 1 || calls[0].method != "views.open" {
			t.Fatalf("%s: calls = %+v, want views.open", action, calls)
		}
		var req struct {
			TriggerID string `json:"trigger_id"`
			View      struct {
				CallbackID      string `json:"callback_id"`
				PrivateMetadata string `json:"private_metadata"`
			} `json:"view"`
		}
		if err := json.Unmarshal([]byte(calls[0].body), &req); err != nil || req.TriggerID != "trigger-1" || req.View.CallbackID != callback ||
			req.View.PrivateMetadata != fmt.Sprintf(`{"incident":%d,"channel":"C0OPS","thread":"1700000000.000100"}`, g.open) {
			t.Errorf("%s: views.open %s (%v)", action, calls[0].body, err)
		}
	}

	if calls := press("incident_resolve", g.open); len(calls) != 0 {
		t.Errorf("resolve answered %+v", calls)
	}
	inc := g.incident(g.open)
	if inc.Open() {
		t.Fatalf("not resolved: %+v", inc)
	}
	ev, _ := g.db.IncidentEvents(context.Background(), g.open)
	if last := ev[len(ev)-1]; last.Kind != linkwatch.EventResolved || !strings.Contains(last.Body, "resolved by alice (Slack U0ALICE)") {
		t.Errorf("the resolution in the timeline: %+v", last)
	}

	// The incident is resolved now, as the other one was all along.
	for _, id := range []int64{g.open, g.resolved} {
		ephemeral(press("incident_ack", id), "is resolved")
		ephemeral(press("incident_resolve", id), "is not open")
		ephemeral(press("incident_update", id), "is resolved")
		if calls := press("incident_postmortem", id); len(calls) != 1 || calls[0].method != "views.open" {
			t.Errorf("postmortem of the resolved incident %d: %+v", id, calls)
		}
	}
	ephemeral(press("incident_ack", 999999), "linkwatch has no incident #999999")
	ephemeral(press("incident_postmortem", 999999), "linkwatch has no incident #999999")
	ephemeral(press("incident_ack", 0), "names no linkwatch incident")
	ephemeral(press("incident_delete", g.open), "does not know this button")
}

// TestSlackActionModals: each modal's submission through the engine and
// the admin API's checks: a public update (status page and channels), an
// internal one (the timeline, and the thread), a postmortem saved as a
// draft then published. A bad field is shown on it in the modal, and
// changes nothing; an update of an incident resolved meanwhile is
// explained to the user alone.
func TestSlackActionModals(t *testing.T) {
	t.Parallel()
	g := newActionsRig(t)
	ctx := context.Background()
	submit := func(callback string, id int64, fields map[string]string) string {
		t.Helper()
		code, body := g.serve(g.h, interaction(g.submit(callback, id, fields), signingSecret, time.Now()))
		if code != http.StatusOK {
			t.Fatalf("%s: %d %q", callback, code, body)
		}
		return body
	}

	if body := submit("incident_update", g.open, map[string]string{"body": "We found it: the CDN.", "visibility": "public", "status": "identified"}); body != "" {
		t.Errorf("public update answered %q, want nothing (the modal closes)", body)
	}
	ups, _ := g.db.IncidentUpdates(ctx, g.open)
	if len(ups) != 1 || ups[0].Body != "We found it: the CDN." || ups[0].Status != linkwatch.StatusIdentified || g.incident(g.open).Status != linkwatch.StatusIdentified {
		t.Errorf("public updates = %+v", ups)
	}
	g.web.take()

	submit("incident_update", g.open, map[string]string{"body": "rolled back deploy 4711", "visibility": "internal", "status": "monitoring"})
	ev, _ := g.db.IncidentEvents(ctx, g.open)
	if last := ev[len(ev)-1]; last.Kind != linkwatch.EventNote || last.Body != "internal note by alice (Slack U0ALICE): rolled back deploy 4711" {
		t.Errorf("internal update in the timeline: %+v", last)
	}
	if ups, _ := g.db.IncidentUpdates(ctx, g.open); len(ups) != 1 {
		t.Errorf("the internal update became public: %+v", ups)
	}
	if calls := g.web.take(); len(calls) != 1 || calls[0].method != "chat.postMessage" || !strings.Contains(calls[0].body, "thread_ts:[1700000000.000100]") ||
		!strings.Contains(calls[0].body, "Internal update by alice (Slack U0ALICE): rolled back deploy 4711") {
		t.Errorf("internal update in the thread: %+v", calls)
	}

	for _, tc := range []struct {
		callback string
		fields   map[string]string
		field    string
	}{
		{"incident_update", map[string]string{"body": "  ", "visibility": "public", "status": "identified"}, "body"},
		{"incident_update", map[string]string{"body": "x", "visibility": "public", "status": "resolved?"}, "status"},
		{"incident_update", map[string]string{"body": "", "visibility": "internal"}, "body"},
		{"incident_update", map[string]string{"body": "bell\a", "visibility": "public", "status": "identified"}, "body"},
		{"incident_postmortem", map[string]string{"primary_cause": "", "publish": "publish"}, "primary_cause"},
		{"incident_postmortem", map[string]string{"primary_cause": strings.Repeat("x", 20001), "publish": "draft"}, "primary_cause"},
	} {
		body := submit(tc.callback, g.open, tc.fields)
		var resp struct {
			Action string            `json:"response_action"`
			Errors map[string]string `json:"errors"`
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Action != "errors" || resp.Errors[tc.field] == "" || len(resp.Errors) != 1 {
			t.Errorf("%s %v: answered %q, want the error on %s", tc.callback, tc.fields, body, tc.field)
		}
	}
	if ups, _ := g.db.IncidentUpdates(ctx, g.open); len(ups) != 1 {
		t.Errorf("a refused update was posted: %+v", ups)
	}
	if pm := g.incident(g.open).Postmortem; pm != (linkwatch.Postmortem{}) {
		t.Errorf("a refused postmortem was saved: %+v", pm)
	}

	pm := map[string]string{"primary_cause": "A CDN config push", "contributing_factors": "No canary for config", "why_not_caught": "Staging has no CDN",
		"notes": "", "publish": "draft"}
	submit("incident_postmortem", g.resolved, pm)
	got := g.incident(g.resolved).Postmortem
	if got.PrimaryCause != "A CDN config push" || got.ContributingFactors != "No canary for config" || got.WhyNotCaught != "Staging has no CDN" || got.Published {
		t.Errorf("draft postmortem = %+v", got)
	}
	pm["publish"] = "publish"
	submit("incident_postmortem", g.resolved, pm)
	if got := g.incident(g.resolved).Postmortem; !got.Published || got.PrimaryCause != "A CDN config push" {
		t.Errorf("published postmortem = %+v", got)
	}
	g.web.take()

	// Resolved between the modal's opening and its submission.
	submit("incident_update", g.resolved, map[string]string{"body": "still looking", "visibility": "public", "status": "monitoring"})
	calls := g.web.take()
	if len(calls) != 1 || calls[0].method != "chat.postEphemeral" || !strings.Contains(calls[0].body, "user:[U0ALICE]") ||
		!strings.Contains(calls[0].body, "channel:[C0OPS]") || !strings.Contains(calls[0].body, "is resolved") {
		t.Errorf("update of a resolved incident: %+v, want an ephemeral explanation", calls)
	}
}

// TestSlackMessageCarriesActions: with a signing secret, the bot's opening
// message carries the buttons; an acknowledgement (from any path) edits
// it in place to say by whom, without the Acknowledge button; the
// resolution edits it to RESOLVED with Write postmortem only. Without a
// signing secret, no buttons.
func TestSlackMessageCarriesActions(t *testing.T) {
	t.Parallel()
	g := newActionsRig(t)
	alerting.SetSlackPace(g.app, time.Millisecond)
	ctx := context.Background()
	send := func(s *alerting.Slack, a linkwatch.Alert) []webCall {
		t.Helper()
		if err := s.Send(ctx, alerting.Delivery{Alert: a}); err != nil {
			t.Fatal(err)
		}
		return g.web.take()
	}
	buttons := func(c webCall) string {
		var out []string
		for _, a := range []string{"incident_ack", "incident_update", "incident_resolve", "incident_postmortem"} {
			if strings.Contains(c.body, `"action_id":"`+a+`"`) {
				out = append(out, a)
			}
		}
		return strings.Join(out, " ")
	}
	opened := testAlert(g.open, linkwatch.AlertOpened)
	calls := send(g.app, opened)
	if len(calls) != 1 || calls[0].method != "chat.postMessage" || buttons(calls[0]) != "incident_ack incident_update incident_resolve incident_postmortem" ||
		!strings.Contains(calls[0].body, fmt.Sprintf(`"value":"%d"`, g.open)) {
		t.Fatalf("opening message: %+v", calls)
	}
	acked := testAlert(g.open, linkwatch.AlertUpdated)
	acked.Reason, acked.Incident.AcknowledgedBy, acked.Incident.AcknowledgedAt = "acknowledged", "alice (Slack U0ALICE)", time.Now()
	calls = send(g.app, acked)
	if len(calls) != 2 || calls[0].method != "chat.postMessage" || calls[1].method != "chat.update" ||
		!strings.Contains(calls[1].body, "ts:[1700000000.000100]") || !strings.Contains(calls[1].body, "Acknowledged*\\nby alice (Slack U0ALICE)") ||
		!strings.Contains(calls[1].body, "Down: ") || buttons(calls[1]) != "incident_update incident_resolve incident_postmortem" || buttons(calls[0]) != "" {
		t.Errorf("acknowledgement: %+v", calls)
	}
	calls = send(g.app, testAlert(g.open, linkwatch.AlertResolved))
	if len(calls) != 2 || calls[1].method != "chat.update" || !strings.Contains(calls[1].body, "RESOLVED after") || buttons(calls[1]) != "incident_postmortem" {
		t.Errorf("resolution: %+v", calls)
	}

	plain, err := alerting.NewSlack(alerting.SlackOptions{BotToken: slackToken, Channel: "#ops", APIURL: g.web.srv.URL + "/api/", Threads: g.db, Name: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	opened.IncidentID = g.resolved
	if calls := send(plain, opened); len(calls) != 1 || buttons(calls[0]) != "" {
		t.Errorf("without a signing secret: %+v", calls)
	}
	if _, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: g.web.srv.URL + "/hook", SigningSecret: signingSecret}); err == nil {
		t.Error("an incoming webhook with a signing secret was accepted")
	}
}
