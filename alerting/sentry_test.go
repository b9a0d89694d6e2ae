package alerting_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
)

const sentryTestKey = "publickey"

// sentryEnvelope is one parsed envelope: its header and its items.
type sentryEnvelope struct {
	Header map[string]any
	Items  []sentryItem
}

type sentryItem struct {
	Header  map[string]any
	Payload map[string]any
}

// fakeSentry is a loopback Sentry that records envelopes and answers with
// the configured status.
type fakeSentry struct {
	srv  *httptest.Server
	envs chan sentryEnvelope

	mu      sync.Mutex
	status  int
	headers http.Header
	body    string
	hold    chan struct{} // when set, requests wait on it
}

func newFakeSentry(t *testing.T) *fakeSentry {
	t.Helper()
	f := &fakeSentry{envs: make(chan sentryEnvelope, 100), status: http.StatusOK}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		status, headers, body, hold := f.status, f.headers, f.body, f.hold
		f.mu.Unlock()
		if hold != nil {
			<-hold
		}
		if r.Method != http.MethodPost || r.URL.Path != "/api/42/envelope/" {
			http.Error(w, "wrong endpoint "+r.URL.Path, http.StatusNotFound)
			return
		}
		if !strings.Contains(r.Header.Get("X-Sentry-Auth"), "sentry_key="+sentryTestKey) {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		env, err := parseEnvelope(raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.envs <- env
		for k, vs := range headers {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSentry) dsn() string {
	return "http://" + sentryTestKey + "@" + f.srv.Listener.Addr().String() + "/42"
}

func (f *fakeSentry) respond(status int, headers http.Header, body string) {
	f.mu.Lock()
	f.status, f.headers, f.body = status, headers, body
	f.mu.Unlock()
}

// next returns the next envelope received, failing the test after 5 s.
func (f *fakeSentry) next(t *testing.T) sentryEnvelope {
	t.Helper()
	select {
	case e := <-f.envs:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no envelope received")
		return sentryEnvelope{}
	}
}

// parseEnvelope parses the envelope format: a JSON header line, then for
// each item a JSON header line and a payload of the given length (or up to
// the next newline).
func parseEnvelope(raw []byte) (sentryEnvelope, error) {
	var env sentryEnvelope
	r := bufio.NewReader(bytes.NewReader(raw))
	line, err := r.ReadBytes('\n')
	if err != nil {
		return env, fmt.Errorf("envelope header: %w", err)
	}
	if err := json.Unmarshal(line, &env.Header); err != nil {
		return env, fmt.Errorf("envelope header: %w", err)
	}
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 && err == io.EOF {
			return env, nil
		}
		var it sentryItem
		if err := json.Unmarshal(line, &it.Header); err != nil {
			return env, fmt.Errorf("item header: %w", err)
		}
		var payload []byte
		if n, ok := it.Header["length"].(float64); ok {
			payload = make([]byte, int(n))
			if _, err := io.ReadFull(r, payload); err != nil {
				return env, fmt.Errorf("item payload: %w", err)
			}
			if b, err := r.ReadByte(); err == nil && b != '\n' {
				_ = r.UnreadByte()
			}
		} else if payload, err = r.ReadBytes('\n'); err != nil && err != io.EOF {
			return env, err
		}
		if err := json.Unmarshal(payload, &it.Payload); err != nil {
			return env, fmt.Errorf("item payload: %w", err)
		}
		env.Items = append(env.Items, it)
	}
}

// only returns the envelope's single item of the given type.
func (e sentryEnvelope) only(t *testing.T, typ string) map[string]any {
	t.Helper()
	if len(e.Items) != 1 {
		t.Fatalf("envelope has %d items, want 1", len(e.Items))
	}
	if got := e.Items[0].Header["type"]; got != typ {
		t.Fatalf("item type = %v, want %s", got, typ)
	}
	return e.Items[0].Payload
}

func newTestSentry(t *testing.T, dsn string) *alerting.Sentry {
	t.Helper()
	s, err := alerting.NewSentry(alerting.SentryOptions{DSN: dsn, Environment: "test", Release: "linkwatch@test"})
	if err != nil {
		t.Fatalf("NewSentry: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func sentryDelivery(typ linkwatch.AlertType, host string) alerting.Delivery {
	affected := make([]linkwatch.Affected, 25)
	for i := range affected {
		affected[i] = linkwatch.Affected{Page: "p", Link: fmt.Sprintf("l%d", i), URL: "https://shop.example/x"}
	}
	return alerting.Delivery{
		ID:      7,
		Channel: "sentry",
		Alert: linkwatch.Alert{
			EventID:    "evt-" + string(typ),
			Type:       typ,
			IncidentID: 12,
			CreatedAt:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			Incident: linkwatch.Incident{
				ID: 12, Key: "dest:https://shop.example/x", Kind: linkwatch.KindDestination,
				Title: "shop.example is down", Cause: linkwatch.CauseHTTP5xx, Summary: "HTTP 503",
				Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: host,
				Affected: affected, StartedAt: time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC),
			},
			LastResult: &linkwatch.Result{
				URL: "https://shop.example/x", StatusCode: 503, Cause: linkwatch.CauseHTTP5xx,
				Summary: "HTTP 503", Error: "upstream", FinalURL: "https://shop.example/y",
				Hops: []linkwatch.Hop{
					{URL: "https://shop.example/x", StatusCode: 301, Location: "/y", Phases: linkwatch.Phases{DNS: 1500 * time.Microsecond}},
					{URL: "https://shop.example/y", StatusCode: 503, Phases: linkwatch.Phases{FirstByte: 20 * time.Millisecond}},
				},
			},
		},
	}
}

// TestSentryOneIssuePerIncident: a destination incident that becomes its
// host's keeps one Sentry issue, and the same destination failing again
// (a new incident) is another.
func TestSentryOneIssuePerIncident(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	opened := sentryDelivery(linkwatch.AlertOpened, "shop.example")
	grown := sentryDelivery(linkwatch.AlertUpdated, "shop.example")
	grown.Alert.Incident.Key, grown.Alert.Incident.Kind = "host:shop.example|http_5xx", linkwatch.KindHost
	again := sentryDelivery(linkwatch.AlertOpened, "shop.example")
	again.Alert.EventID, again.Alert.IncidentID, again.Alert.Incident.ID = "evt-next-week", 40, 40
	var prints []string
	for _, d := range []alerting.Delivery{opened, grown, again} {
		if err := s.Send(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		prints = append(prints, fmt.Sprint(f.next(t).only(t, "event")["fingerprint"]))
	}
	if prints[0] != prints[1] || prints[0] == prints[2] {
		t.Errorf("fingerprints = %v: want the first two equal (one incident), the third apart", prints)
	}
}

// TestSentryMinorIncidentIsAWarning: a degraded incident (a certificate
// expiring soon) reaches Sentry as a warning, not an error that pages.
func TestSentryMinorIncidentIsAWarning(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	d := sentryDelivery(linkwatch.AlertOpened, "shop.example")
	d.Alert.Incident.Impact, d.Alert.Incident.Cause = linkwatch.ImpactMinor, linkwatch.CauseTLSExpiring
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if ev := f.next(t).only(t, "event"); ev["level"] != "warning" {
		t.Errorf("level = %v, want warning", ev["level"])
	}
}

// TestSentryCarriesOperatorUpdate: an operator's update text reaches Sentry.
func TestSentryCarriesOperatorUpdate(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	d := sentryDelivery(linkwatch.AlertUpdated, "shop.example")
	d.Alert.Reason = "update_posted"
	d.Alert.Update = &linkwatch.Update{Status: linkwatch.StatusIdentified, Body: "identified: rolling back"}
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	ev := f.next(t).only(t, "event")
	if msg, _ := ev["message"].(string); !strings.Contains(msg, "identified: rolling back") {
		t.Errorf("message = %q", msg)
	}
	inc, _ := ev["contexts"].(map[string]any)["incident"].(map[string]any)
	if inc["update"] != "identified: rolling back" || inc["update_status"] != "identified" {
		t.Errorf("incident context = %v", inc)
	}
}

// TestSentryCarriesGroupedUpdates: operator updates grouped within
// alerts.group_interval reach the incident's Sentry issue in one event,
// each one's words in order.
func TestSentryCarriesGroupedUpdates(t *testing.T) {
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	d := sentryDelivery(linkwatch.AlertUpdated, "shop.example")
	d.Alert.Reason = "update_posted"
	d.Alert.Earlier = []linkwatch.Update{{Status: linkwatch.StatusIdentified, Body: "found a full disk"}}
	d.Alert.Update = &linkwatch.Update{Status: linkwatch.StatusMonitoring, Body: "disk grown, watching"}
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	ev := f.next(t).only(t, "event")
	if msg, _ := ev["message"].(string); !strings.HasSuffix(msg, " — identified: found a full disk — monitoring: disk grown, watching") {
		t.Errorf("message = %q", msg)
	}
	inc, _ := ev["contexts"].(map[string]any)["incident"].(map[string]any)
	if inc["update"] != "disk grown, watching" || inc["update_status"] != "monitoring" || inc["earlier_updates"] == nil {
		t.Errorf("incident context = %v", inc)
	}
}

// TestSentryCarriesAcknowledgement: an acknowledgement reaches the
// incident's Sentry issue naming who is on it.
func TestSentryCarriesAcknowledgement(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	d := sentryDelivery(linkwatch.AlertUpdated, "shop.example")
	d.Alert.Reason = string(linkwatch.EventAcknowledged)
	d.Alert.Incident.AcknowledgedAt, d.Alert.Incident.AcknowledgedBy = d.Alert.CreatedAt, "alice"
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	ev := f.next(t).only(t, "event")
	if msg, _ := ev["message"].(string); !strings.HasSuffix(msg, " — acknowledged by alice") {
		t.Errorf("message = %q", msg)
	}
	inc, _ := ev["contexts"].(map[string]any)["incident"].(map[string]any)
	if inc["reason"] != "acknowledged" || inc["acknowledged_by"] != "alice" || inc["acknowledged_at"] == nil {
		t.Errorf("incident context = %v", inc)
	}
}

func TestSentrySendIncidentEvent(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	if s.Name() != "sentry" {
		t.Fatalf("Name = %q", s.Name())
	}
	tests := []struct {
		typ      linkwatch.AlertType
		host     string
		level    string
		wantTags map[string]string
	}{
		{linkwatch.AlertOpened, "shop.example", "error", map[string]string{"cause": "http_5xx", "host": "shop.example", "component": "destination", "alert_type": "incident.opened"}},
		{linkwatch.AlertUpdated, "shop.example", "error", map[string]string{"cause": "http_5xx", "host": "shop.example", "component": "destination", "alert_type": "incident.updated"}},
		{linkwatch.AlertResolved, "", "info", map[string]string{"cause": "http_5xx", "component": "destination", "alert_type": "incident.resolved"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			if err := s.Send(context.Background(), sentryDelivery(tc.typ, tc.host)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			ev := f.next(t).only(t, "event")
			if got := fmt.Sprint(ev["fingerprint"]); got != "[linkwatch-incident 12]" {
				t.Errorf("fingerprint = %s, want one issue per incident id", got)
			}
			if tags, _ := ev["tags"].(map[string]any); tags["incident_key"] != "dest:https://shop.example/x" {
				t.Errorf("incident_key tag = %v", tags["incident_key"])
			}
			if ev["level"] != tc.level {
				t.Errorf("level = %v, want %s", ev["level"], tc.level)
			}
			if ev["message"] != "shop.example is down" {
				t.Errorf("message = %v", ev["message"])
			}
			if ev["environment"] != "test" || ev["release"] != "linkwatch@test" {
				t.Errorf("environment/release = %v/%v", ev["environment"], ev["release"])
			}
			tags, _ := ev["tags"].(map[string]any)
			for k, want := range tc.wantTags {
				if tags[k] != want {
					t.Errorf("tag %s = %v, want %s", k, tags[k], want)
				}
			}
			if _, ok := tags["host"]; ok && tc.host == "" {
				t.Errorf("empty host tag sent: %v", tags)
			}
			contexts, _ := ev["contexts"].(map[string]any)
			inc, _ := contexts["incident"].(map[string]any)
			if inc["key"] != "dest:https://shop.example/x" || inc["status"] != "investigating" || inc["impact"] != "major" ||
				inc["affected_count"] != float64(25) || inc["started_at"] != "2025-01-02T03:00:00Z" || inc["flapping"] != false {
				t.Errorf("incident context = %v", inc)
			}
			if list, _ := inc["affected"].([]any); len(list) != 20 {
				t.Errorf("affected list has %d entries, want 20", len(list))
			}
			evd, _ := contexts["evidence"].(map[string]any)
			if evd["url"] != "https://shop.example/x" || evd["status_code"] != float64(503) || evd["cause"] != "http_5xx" ||
				evd["final_url"] != "https://shop.example/y" || evd["error"] != "upstream" || evd["summary"] != "HTTP 503" {
				t.Errorf("evidence context = %v", evd)
			}
			hops, _ := evd["hops"].([]any)
			if len(hops) != 2 {
				t.Fatalf("hops = %v", evd["hops"])
			}
			h0, _ := hops[0].(map[string]any)
			ph, _ := h0["phases_ms"].(map[string]any)
			if h0["status"] != float64(301) || h0["location"] != "/y" || ph["dns"] != 1.5 {
				t.Errorf("hop 0 = %v", h0)
			}
		})
	}
}

func TestSentryNoEvidenceWithoutResult(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	d := sentryDelivery(linkwatch.AlertOpened, "")
	d.Alert.LastResult = nil
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	contexts, _ := f.next(t).only(t, "event")["contexts"].(map[string]any)
	if _, ok := contexts["evidence"]; ok {
		t.Errorf("evidence context without a result: %v", contexts["evidence"])
	}
}

func TestSentryStableEventID(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	d := sentryDelivery(linkwatch.AlertOpened, "shop.example")
	var ids []string
	for range 2 {
		if err := s.Send(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		env := f.next(t)
		id, _ := env.Header["event_id"].(string)
		if !hex32.MatchString(id) {
			t.Fatalf("event_id %q is not 32 hex digits", id)
		}
		if p := env.only(t, "event"); p["event_id"] != id {
			t.Errorf("payload event_id %v != header %s", p["event_id"], id)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] {
		t.Errorf("retry changed the event id: %s then %s", ids[0], ids[1])
	}
	other := sentryDelivery(linkwatch.AlertResolved, "shop.example")
	if err := s.Send(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if id := f.next(t).Header["event_id"]; id == ids[0] {
		t.Errorf("another alert got the same event id %v", id)
	}
}

func TestSentryHeartbeat(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	for _, tc := range []struct {
		ok     bool
		status string
	}{{true, "ok"}, {false, "error"}} {
		t.Run(tc.status, func(t *testing.T) {
			if err := s.Heartbeat(context.Background(), tc.ok, "rounds late"); err != nil {
				t.Fatalf("Heartbeat: %v", err)
			}
			ci := f.next(t).only(t, "check_in")
			if ci["monitor_slug"] != "linkwatch-prober" || ci["status"] != tc.status {
				t.Errorf("check-in = %v", ci)
			}
			if id, _ := ci["check_in_id"].(string); len(id) != 32 {
				t.Errorf("check_in_id = %q", id)
			}
			mc, _ := ci["monitor_config"].(map[string]any)
			sched, _ := mc["schedule"].(map[string]any)
			if sched["type"] != "crontab" || sched["value"] != "* * * * *" || mc["checkin_margin"] != float64(1) || mc["max_runtime"] != float64(1) {
				t.Errorf("monitor_config = %v", mc)
			}
		})
	}
}

func TestSentrySendClassification(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	tests := []struct {
		name       string
		status     int
		headers    http.Header
		wantErr    bool
		retry      bool
		retryAfter time.Duration
	}{
		{"ok", 200, nil, false, false, 0},
		{"rate limited Retry-After", 429, http.Header{"Retry-After": {"7"}}, true, true, 7 * time.Second},
		{"rate limited X-Sentry-Rate-Limits", 429, http.Header{"Retry-After": {"7"}, "X-Sentry-Rate-Limits": {"30:error;default:organization, 900:transaction:project"}}, true, true, 30 * time.Second},
		{"rate limited all categories", 429, http.Header{"X-Sentry-Rate-Limits": {"45::organization"}}, true, true, 45 * time.Second},
		{"rate limited no hint", 429, nil, true, true, time.Minute},
		{"server error", 500, nil, true, true, 0},
		{"bad gateway", 502, nil, true, true, 0},
		{"bad request", 400, nil, true, false, 0},
		{"too large", 413, nil, true, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.respond(tc.status, tc.headers, "")
			err := s.Send(context.Background(), sentryDelivery(linkwatch.AlertOpened, "shop.example"))
			f.next(t)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Send = %v, want nil", err)
				}
				return
			}
			var se *alerting.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v (%T), want *SendError", err, err)
			}
			if se.Retry != tc.retry || se.RetryAfter != tc.retryAfter || se.HTTPStatus != tc.status {
				t.Errorf("SendError{Retry: %v, RetryAfter: %v, HTTPStatus: %d}, want {%v, %v, %d}",
					se.Retry, se.RetryAfter, se.HTTPStatus, tc.retry, tc.retryAfter, tc.status)
			}
		})
	}
}

func TestSentryNetworkErrorRetries(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	dsn := f.dsn()
	f.srv.Close()
	s := newTestSentry(t, dsn)
	for name, send := range map[string]func() error{
		"send":      func() error { return s.Send(context.Background(), sentryDelivery(linkwatch.AlertOpened, "")) },
		"heartbeat": func() error { return s.Heartbeat(context.Background(), true, "") },
	} {
		err := send()
		var se *alerting.SendError
		if !errors.As(err, &se) || !se.Retry {
			t.Errorf("%s: %v, want a retryable *SendError", name, err)
		}
		assertNoSecret(t, dsn, name+" error", fmt.Sprint(err))
	}
}

func assertNoSecret(t *testing.T, dsn, what, text string) {
	t.Helper()
	if strings.Contains(text, sentryTestKey) || strings.Contains(text, dsn) {
		t.Errorf("%s leaks the DSN or its key: %s", what, text)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestSentrySecretNeverInErrors(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	// The worst receiver: it echoes the credentials in its answer.
	for _, status := range []int{403, 429, 500} {
		f.respond(status, http.Header{"X-Sentry-Error": {"bad key " + sentryTestKey + " in " + f.dsn()}}, "key="+sentryTestKey)
		err := s.Send(context.Background(), sentryDelivery(linkwatch.AlertOpened, ""))
		f.next(t)
		if err == nil {
			t.Fatalf("status %d: Send succeeded", status)
		}
		assertNoSecret(t, f.dsn(), fmt.Sprintf("status %d error", status), err.Error())
		err = s.Heartbeat(context.Background(), false, "late")
		f.next(t)
		assertNoSecret(t, f.dsn(), fmt.Sprintf("status %d heartbeat error", status), fmt.Sprint(err))
	}

	// A failed capture of an error log is logged, without the secret.
	f.respond(403, http.Header{"X-Sentry-Error": {"bad key " + sentryTestKey}}, sentryTestKey)
	var buf syncBuffer
	log := slog.New(alerting.NewSentryLogHandler(slog.NewTextHandler(&buf, nil), s))
	log.Error("store failed", "dsn_hint", "none")
	f.next(t)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "could not send") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // a poll: the Sentry client sends in real time
	}
	if !strings.Contains(buf.String(), "could not send") {
		t.Fatalf("failed capture not logged: %s", buf.String())
	}
	assertNoSecret(t, f.dsn(), "log output", buf.String())

	// An invalid DSN is not quoted either.
	bad := "http://" + sentryTestKey + "@127.0.0.1:1/notanumber%zz"
	if _, err := alerting.NewSentry(alerting.SentryOptions{DSN: bad}); err == nil {
		t.Error("NewSentry accepted an invalid DSN")
	} else {
		assertNoSecret(t, bad, "NewSentry error", err.Error())
	}
}

func TestSentryLogHandler(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s := newTestSentry(t, f.dsn())
	var buf syncBuffer
	log := slog.New(alerting.NewSentryLogHandler(slog.NewTextHandler(&buf, nil), s)).
		With("component", "dispatcher").WithGroup("req")

	log.Info("all good", "n", 1)
	log.Error("alert delivery", "channel", "slack", "err", errors.New("connection reset by peer"), "attempt", 3)

	ev := f.next(t).only(t, "event")
	if ev["message"] != "alert delivery" || ev["level"] != "error" {
		t.Errorf("event message/level = %v/%v", ev["message"], ev["level"])
	}
	tags, _ := ev["tags"].(map[string]any)
	if tags["component"] != "dispatcher" || tags["req.channel"] != "slack" {
		t.Errorf("tags = %v", tags)
	}
	if _, ok := tags["req.err"]; ok {
		t.Errorf("error text used as a tag: %v", tags)
	}
	contexts, _ := ev["contexts"].(map[string]any)
	attrs, _ := contexts["log"].(map[string]any)
	if attrs["req.err"] != "connection reset by peer" || attrs["req.attempt"] != float64(3) || attrs["component"] != "dispatcher" {
		t.Errorf("log context = %v", attrs)
	}
	out := buf.String()
	if !strings.Contains(out, "all good") || !strings.Contains(out, "alert delivery") || !strings.Contains(out, "req.channel=slack") {
		t.Errorf("next handler did not get the records: %s", out)
	}
	select {
	case e := <-f.envs:
		t.Errorf("info record reached Sentry: %v", e)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSentryLogHandlerDoesNotBlock(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	hold := make(chan struct{})
	f.mu.Lock()
	f.hold = hold
	f.mu.Unlock()
	s := newTestSentry(t, f.dsn())
	log := slog.New(alerting.NewSentryLogHandler(slog.NewTextHandler(io.Discard, nil), s))
	start := time.Now()
	for i := range 1000 {
		log.Error("boom", "i", i)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("logging 1000 errors with Sentry stuck took %v", d)
	}
	close(hold)
}
