package alerting_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"linkwatch/alerting"
	"linkwatch/checker"
)

var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func testAlert(id int64, typ linkwatch.AlertType) linkwatch.Alert {
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	inc := linkwatch.Incident{ID: id, Key: "dest:https://shop.example/", Kind: linkwatch.KindDestination, Title: "acme/shop is down (http_5xx)",
		Cause: linkwatch.CauseHTTP5xx, Summary: "503 Service Unavailable at https://shop.example/", Status: linkwatch.StatusInvestigating,
		Impact: linkwatch.ImpactMajor, Host: "shop.example", Targets: []string{"https://shop.example/"},
		Affected: []linkwatch.Affected{{Page: "acme", Link: "shop", URL: "https://shop.example/"}}, StartedAt: start, UpdatedAt: start}
	if typ == linkwatch.AlertResolved {
		inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, start.Add(12*time.Minute)
	}
	return linkwatch.Alert{EventID: "msg_" + string(typ) + "_" + jsonNum(id), Type: typ, IncidentID: id, CreatedAt: start, Incident: inc,
		LastResult: &linkwatch.Result{TargetID: "https://shop.example/", Kind: linkwatch.TargetDestination, URL: "https://shop.example/", Start: start,
			Latency: 80 * time.Millisecond, Status: linkwatch.StatusDown, StatusCode: 503, Cause: linkwatch.CauseHTTP5xx}}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// receiver is a webhook endpoint that verifies signatures with the
// Standard Webhooks reference library and answers with scripted statuses.
type receiver struct {
	t        *testing.T
	verifier *standardwebhooks.Webhook
	mu       sync.Mutex
	statuses []int // answered in turn; 200 once exhausted
	got      []alerting.WebhookBody
	raw      [][]byte // the bodies as sent
	ids      []string
}

func newReceiver(t *testing.T, statuses ...int) (*receiver, *httptest.Server) {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, verifier: v, statuses: statuses}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := rc.verifier.Verify(body, r.Header); err != nil {
		rc.t.Errorf("signature does not verify: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
	}
	if status == http.StatusFound {
		w.Header().Set("Location", "http://elsewhere.example/")
	}
	w.WriteHeader(status)
	if status < 300 {
		var b alerting.WebhookBody
		if err := json.Unmarshal(body, &b); err != nil {
			rc.t.Errorf("body is not JSON: %v", err)
		}
		rc.got = append(rc.got, b)
		rc.raw = append(rc.raw, body)
	}
}

func (rc *receiver) received() []alerting.WebhookBody {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]alerting.WebhookBody(nil), rc.got...)
}

// idsGot returns the webhook-id header of every request, in order.
func (rc *receiver) idsGot() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.ids)
}

func TestWebhookSignedBody(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t)
	wh, err := alerting.NewWebhook("ops", srv.URL+"/hooks/T0KEN-in-path?key=SECRET", testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(7, linkwatch.AlertOpened)
	if err := wh.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
		t.Fatal(err)
	}
	got := rc.received()
	if len(got) != 1 || got[0].Type != linkwatch.AlertOpened || got[0].Data.Incident.ID != 7 || got[0].Data.EventID != a.EventID {
		t.Fatalf("received %+v", got)
	}
	if rc.ids[0] != a.EventID {
		t.Errorf("webhook-id = %q, want the stable event id %q", rc.ids[0], a.EventID)
	}
}

func TestWebhookStatusClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status         int
		wantErr        bool
		retry, disable bool
		retryAfter     time.Duration
	}{
		{200, false, false, false, 0},
		{204, false, false, false, 0},
		{302, true, true, false, 0},
		{400, true, false, false, 0},
		{404, true, false, false, 0},
		{408, true, true, false, 0},
		{410, true, false, true, 0},
		{429, true, true, false, 7 * time.Second},
		{500, true, true, false, 0},
		{503, true, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			_, srv := newReceiver(t, tt.status)
			secretURL := srv.URL + "/hooks/T0KEN"
			wh, err := alerting.NewWebhook("ops", secretURL, testSecret, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = wh.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var se *alerting.SendError
			if !errors.As(err, &se) || se.Retry != tt.retry || se.Disable != tt.disable || se.RetryAfter != tt.retryAfter || se.HTTPStatus != tt.status {
				t.Errorf("SendError = %+v, want retry %v disable %v retry-after %v", se, tt.retry, tt.disable, tt.retryAfter)
			}
			if strings.Contains(err.Error(), "T0KEN") {
				t.Errorf("error leaks the webhook URL's secret: %v", err)
			}
		})
	}
}

func TestWebhookSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	// A receiver that is down: the transport's error names the URL.
	secretURL := "http://127.0.0.1:1/hooks/T0KEN?sig=SECRET"
	wh, err := alerting.NewWebhook("ops", secretURL, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = wh.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)})
	if err == nil {
		t.Fatal("send to a closed port succeeded")
	}
	for _, secret := range []string{"T0KEN", "SECRET", testSecret} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks %q", err, secret)
		}
	}
}

func TestWebhookSSRFGuard(t *testing.T) {
	t.Parallel()
	_, srv := newReceiver(t)
	guarded := alerting.DialFunc(checker.GuardedDialContext(nil, time.Second))
	wh, err := alerting.NewWebhook("ops", srv.URL+"/", testSecret, guarded)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)}); err == nil || !strings.Contains(err.Error(), "private or reserved") {
		t.Errorf("webhook to loopback without allow_private: err = %v, want the SSRF guard to refuse", err)
	}
	allowed := alerting.DialFunc(checker.GuardedDialContext([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, time.Second))
	wh, _ = alerting.NewWebhook("ops", srv.URL+"/", testSecret, allowed)
	if err := wh.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)}); err != nil {
		t.Errorf("allowed loopback: %v", err)
	}
}

func TestNewWebhookRejectsBadSecrets(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "tok3nXYZ", "whsec_", "whsec_!!!XYZ", "whsec_" + base64.StdEncoding.EncodeToString([]byte("shortXYZ"))} {
		if _, err := alerting.NewWebhook("x", "https://example.com/", s, nil); err == nil {
			t.Errorf("secret %q accepted", s)
		} else if strings.Contains(err.Error(), "XYZ") {
			t.Errorf("error repeats the secret: %v", err)
		}
	}
}

// TestUpdateTextAndAddedLinksReachEveryChannel: an operator's update and
// the links added in a grouped update are in the webhook body and in the
// Slack message, not only in linkwatch's database.
func TestUpdateTextAndAddedLinksReachEveryChannel(t *testing.T) {
	t.Parallel()
	a := testAlert(3, linkwatch.AlertUpdated)
	a.Reason = "update_posted"
	a.Update = &linkwatch.Update{ID: 9, IncidentID: 3, Status: linkwatch.StatusIdentified, Body: "identified: rolling back"}
	grouped := testAlert(3, linkwatch.AlertUpdated)
	grouped.Reason = "target_added"
	grouped.Added = []linkwatch.Affected{{Page: "acme", Link: "cart", URL: "https://shop.example/cart"}, {Page: "acme", Link: "pay", URL: "https://shop.example/pay"}}

	rc, srv := newReceiver(t)
	wh, err := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range []linkwatch.Alert{a, grouped} {
		if err := wh.Send(context.Background(), alerting.Delivery{Alert: al}); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.received()
	if u := got[0].Data.Update; u == nil || u.Body != "identified: rolling back" || u.Status != linkwatch.StatusIdentified {
		t.Errorf("webhook update = %+v", got[0].Data.Update)
	}
	if n := len(got[1].Data.Added); n != 2 || got[1].Data.Added[1].Link != "pay" {
		t.Errorf("webhook added = %+v", got[1].Data.Added)
	}

	f, slackSrv := newFakeSlack(t)
	s, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: slackSrv.URL + "/webhook"})
	if err != nil {
		t.Fatal(err)
	}
	alerting.SetSlackPace(s, time.Millisecond) // not about pacing
	for _, al := range []linkwatch.Alert{a, grouped} {
		if err := s.Send(context.Background(), alerting.Delivery{Alert: al}); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.calls) != 2 {
		t.Fatalf("slack calls: %d", len(f.calls))
	}
	for i, want := range []string{"identified: rolling back", "acme/cart, acme/pay"} {
		if !strings.Contains(f.calls[i].text, want) || !strings.Contains(f.calls[i].blocks, want) {
			t.Errorf("slack message %d lacks %q: text %q", i, want, f.calls[i].text)
		}
	}
}

// TestGroupedUpdatesReachEveryChannel: an operator's updates grouped
// within alerts.group_interval are one webhook carrying them all in order
// (updates; update is the newest, as a receiver that reads only it
// expects) and one Slack message showing each. Before, an alert carried
// one update.
func TestGroupedUpdatesReachEveryChannel(t *testing.T) {
	a := testAlert(3, linkwatch.AlertUpdated)
	a.Reason = "update_posted"
	a.Earlier = []linkwatch.Update{{ID: 8, IncidentID: 3, Status: linkwatch.StatusIdentified, Body: "found a full disk"}}
	a.Update = &linkwatch.Update{ID: 9, IncidentID: 3, Status: linkwatch.StatusMonitoring, Body: "disk grown, watching"}

	rc, srv := newReceiver(t)
	wh, err := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
		t.Fatal(err)
	}
	got := rc.received()[0].Data
	if len(got.Updates) != 2 || got.Updates[0].ID != 8 || got.Updates[1].ID != 9 || got.Update == nil || got.Update.ID != 9 {
		t.Errorf("webhook updates = %+v, update = %+v; want 8 then 9, and 9", got.Updates, got.Update)
	}
	rc.mu.Lock()
	raw := rc.raw[0]
	rc.mu.Unlock()
	if err := validate(t, webhookSchema(t), raw); err != nil {
		t.Errorf("the grouped payload does not match webhook.schema.json: %v\n%s", err, raw)
	}

	f, slackSrv := newFakeSlack(t)
	s, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: slackSrv.URL + "/webhook"})
	if err != nil {
		t.Fatal(err)
	}
	alerting.SetSlackPace(s, time.Millisecond) // not about pacing
	if err := s.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 {
		t.Fatalf("slack calls: %d", len(f.calls))
	}
	c := f.calls[0]
	if !strings.Contains(c.text, "Update (monitoring)") || !strings.Contains(c.text, "found a full disk · disk grown, watching") {
		t.Errorf("slack text %q: want the newest status and both updates in order", c.text)
	}
	if i, j := strings.Index(c.blocks, "*Update (identified)*"), strings.Index(c.blocks, "*Update (monitoring)*"); i < 0 || j < i {
		t.Errorf("slack blocks do not show both updates in order: %s", c.blocks)
	}
}

// TestRetryAfterAsAnHTTPDate: a receiver may give Retry-After as a date
// (RFC 9110); every channel reads it with the prober's parser.
func TestRetryAfterAsAnHTTPDate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	wh, err := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = wh.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)})
	var se *alerting.SendError
	if !errors.As(err, &se) || !se.Retry || se.RetryAfter < 100*time.Second || se.RetryAfter > 2*time.Minute {
		t.Errorf("429 with a date two minutes ahead: %+v", se)
	}
}
