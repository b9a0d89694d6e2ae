package admin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"linkwatch/alerting"
	"linkwatch/checker"
	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/incidents/admin"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

const token = "test-token-0123456789"

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is the admin API and a running dispatcher over one database, with
// the SSRF guard allowing loopback (as probe.allow_private would), so the
// receivers of these tests can be reached.
type env struct {
	db    *sqlite.DB
	srv   *httptest.Server
	clock *aheadClock // the admin API's and the dispatcher's
}

// aheadClock is the real clock, moved ahead by the test when it needs
// time to pass.
type aheadClock struct {
	mu    sync.Mutex
	ahead time.Duration
}

func (c *aheadClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.ahead)
}

func (c *aheadClock) Skip(d time.Duration) { c.mu.Lock(); c.ahead += d; c.mu.Unlock() }

func newEnv(t *testing.T, allow []netip.Prefix, resolver checker.Resolver) *env {
	t.Helper()
	db := sqlitetest.MustOpen(t)
	if resolver == nil {
		resolver = noNames{} // the receivers are IP addresses: no test asks a DNS server
	}
	guard := checker.NewURLGuard(resolver, allow, 2*time.Second)
	r := mux.NewRouter()
	clock := &aheadClock{}
	admin.New(db, admin.Options{Token: token, Log: quiet(), NewSecret: alerting.NewSecret, Now: clock.Now,
		Catalog: linkwatch.PageLinks{"acme": {"shop", "blog"}, "beta": {"store"}},
		CheckURL: func(ctx context.Context, raw string) error {
			if err := hub.ValidateURL(raw); err != nil {
				return err
			}
			return guard.Check(ctx, raw)
		}}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	d := alerting.NewDispatcher(db, nil, nil, quiet())
	d.SetClock(clock.Now)
	// A poll every 100 ms, not every second: the tests wait for what it
	// sends. Not every 20 ms either: eight of these dispatchers at once,
	// under -race on a loaded machine, then spent the cores on polling.
	d.SetPoll(100 * time.Millisecond)
	d.Subscribe(db, guard.Dial)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{db: db, srv: srv, clock: clock}
}

func (e *env) call(t *testing.T, method, path, body string) (int, map[string]any, string) {
	t.Helper()
	return e.callAs(t, token, method, path, body)
}

func (e *env) callAs(t *testing.T, tok, method, path, body string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/api/admin"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out, string(raw)
}

// receiver records every request, verifying it with the official Standard
// Webhooks library once it knows the secret.
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	v       *standardwebhooks.Webhook
	reqs    []received
	calls   int
	answers []int
}

type received struct {
	id, ts, sig, typ string
	eventID          string
	incident         int64
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.v != nil {
		if err := rc.v.VerifyIgnoringTimestamp(body, r.Header); err != nil {
			rc.t.Errorf("signature does not verify: %v", err)
		}
	}
	var b struct {
		Type string `json:"type"`
		Data struct {
			EventID  string `json:"event_id"`
			Incident struct {
				ID int64 `json:"id"`
			} `json:"incident"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &b)
	rc.reqs = append(rc.reqs, received{id: r.Header.Get("webhook-id"), ts: r.Header.Get("webhook-timestamp"), sig: r.Header.Get("webhook-signature"),
		typ: b.Type, eventID: b.Data.EventID, incident: b.Data.Incident.ID})
	status := http.StatusNoContent
	if len(rc.answers) > 0 {
		status, rc.answers = rc.answers[0], rc.answers[1:]
	}
	w.WriteHeader(status)
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // a poll: the dispatcher runs in real time
	}
}

func openIncident(t *testing.T, db *sqlite.DB, key, page string) linkwatch.Incident {
	t.Helper()
	now := db.Now()
	inc := linkwatch.Incident{Key: key, Kind: linkwatch.KindDestination, Title: key, Cause: linkwatch.CauseHTTP5xx, Status: linkwatch.StatusInvestigating,
		Impact: linkwatch.ImpactMajor, Targets: []string{"https://shop.example/"}, StartedAt: now, UpdatedAt: now,
		Affected: []linkwatch.Affected{{Page: page, Link: "shop", URL: "https://shop.example/"}}}
	saved, err := db.Record(context.Background(), incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

func state(t *testing.T, e *env, id int64) string {
	t.Helper()
	_, body, _ := e.call(t, http.MethodGet, fmt.Sprintf("/subscriptions/%d", id), "")
	s, _ := body["state"].(string)
	return s
}

// create makes a subscription for rc and waits until it is verified.
func create(t *testing.T, e *env, rc *receiver, url, filters string) (int64, string) {
	t.Helper()
	code, body, raw := e.call(t, http.MethodPost, "/subscriptions", fmt.Sprintf(`{"url":%q,"filters":%s,"description":"acme team"}`, url, filters))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, raw)
	}
	secret, _ := body["secret"].(string)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) < 24 || len(key) > 64 {
		t.Fatalf("secret %q is not whsec_ and 24-64 base64 bytes", secret)
	}
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.v = v
	rc.mu.Unlock()
	id := int64(body["id"].(float64))
	if body["state"] != "pending_verification" {
		t.Errorf("a new subscription is %v", body["state"])
	}
	eventually(t, "verification", func() bool { return state(t, e, id) == "active" })
	if got := rc.got(); len(got) != 1 || got[0].typ != "subscription.verify" {
		t.Fatalf("before verification: %+v", got)
	}
	return id, secret
}

func TestSubscriptionsAPILifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, loopback, nil)
	rc, rsrv := newReceiver(t)
	id, secret := create(t, e, rc, rsrv.URL+"/hook", `{"pages":["acme"],"events":["incident.opened","incident.resolved"]}`)
	_, body, raw := e.call(t, http.MethodGet, fmt.Sprintf("/subscriptions/%d", id), "")
	if strings.Contains(raw, strings.TrimPrefix(secret, "whsec_")) || body["secret"] != nil {
		t.Errorf("GET shows the secret: %s", raw)
	}
	if body["description"] != "acme team" || body["channel"] != fmt.Sprintf("sub:%d", id) || body["filters"].(map[string]any)["pages"].([]any)[0] != "acme" {
		t.Errorf("GET = %s", raw)
	}
	if _, list, raw := e.call(t, http.MethodGet, "/subscriptions", ""); len(list["subscriptions"].([]any)) != 1 || strings.Contains(raw, strings.TrimPrefix(secret, "whsec_")) {
		t.Errorf("list = %s", raw)
	}
	// Three alerts: two of acme, one of beta (filtered out).
	a1 := openIncident(t, e.db, "dest:a1", "acme")
	openIncident(t, e.db, "dest:b1", "beta")
	a2 := openIncident(t, e.db, "dest:a2", "acme")
	eventually(t, "two alerts", func() bool { return len(rc.got()) == 3 })
	eventually(t, "their outcomes recorded", func() bool { b, _ := e.db.OutboxBacklog(context.Background()); return b.Pending == 0 })
	got := rc.got()
	if got[1].incident != a1.ID || got[2].incident != a2.ID {
		t.Fatalf("received %+v", got)
	}
	// The delivery log of the subscription: newest first, paginated,
	// without the filtered-out alert.
	code, log, raw := e.call(t, http.MethodGet, fmt.Sprintf("/deliveries?subscription=%d&limit=1", id), "")
	list := log["deliveries"].([]any)
	if code != 200 || len(list) != 1 || log["next_before"] == nil {
		t.Fatalf("page 1: %d %s", code, raw)
	}
	newest := list[0].(map[string]any)
	if int64(newest["incident_id"].(float64)) != a2.ID || newest["status"] != "sent" || newest["event_id"] != got[2].id || newest["type"] != "incident.opened" {
		t.Errorf("newest = %v", newest)
	}
	_, log, raw = e.call(t, http.MethodGet, fmt.Sprintf("/deliveries?subscription=%d&before=%v", id, log["next_before"]), "")
	if list := log["deliveries"].([]any); len(list) != 1 || int64(list[0].(map[string]any)["incident_id"].(float64)) != a1.ID {
		t.Errorf("page 2: %s", raw)
	}
	// Redeliver: the same webhook-id, a new timestamp and signature.
	e.clock.Skip(time.Second) // webhook-timestamp is in seconds
	delID := int64(newest["id"].(float64))
	if code, _, raw := e.call(t, http.MethodPost, fmt.Sprintf("/deliveries/%d/redeliver", delID), ""); code != http.StatusAccepted {
		t.Fatalf("redeliver: %d %s", code, raw)
	}
	eventually(t, "the redelivery", func() bool { return len(rc.got()) == 4 })
	eventually(t, "its outcome recorded", func() bool { b, _ := e.db.OutboxBacklog(context.Background()); return b.Pending == 0 })
	re := rc.got()[3]
	if re.id != got[2].id || re.eventID != got[2].eventID || re.ts == got[2].ts || re.sig == got[2].sig {
		t.Errorf("redelivered %+v, original %+v: want the same id, a new timestamp and signature", re, got[2])
	}
	_, one, _ := e.call(t, http.MethodGet, fmt.Sprintf("/deliveries?subscription=%d&limit=1", id), "")
	if d := one["deliveries"].([]any)[0].(map[string]any); d["redeliveries"].(float64) != 1 || d["attempts"].(float64) != 2 {
		t.Errorf("the history does not show the redelivery: %v", d)
	}
	// Replay since before the first alert: both acme alerts again, in
	// order, with their original ids; not beta's.
	since := a1.StartedAt.Add(-time.Second).Format(time.RFC3339)
	code, rep, raw := e.call(t, http.MethodPost, fmt.Sprintf("/subscriptions/%d/replay?since=%s", id, since), "")
	if code != http.StatusAccepted || rep["queued"].(float64) != 2 || rep["more"] != false {
		t.Fatalf("replay: %d %s", code, raw)
	}
	eventually(t, "the replay", func() bool { return len(rc.got()) == 6 })
	all := rc.got()
	if all[4].id != got[1].id || all[5].id != got[2].id {
		t.Errorf("replayed %s, %s; want %s then %s", all[4].id, all[5].id, got[1].id, got[2].id)
	}
	// Pause: nothing; resume: what comes next.
	if code, body, _ := e.call(t, http.MethodPatch, fmt.Sprintf("/subscriptions/%d", id), `{"paused":true}`); code != 200 || body["state"] != "paused" {
		t.Fatalf("pause: %d %v", code, body)
	}
	a3 := openIncident(t, e.db, "dest:a3", "acme")
	settled(t, e, linkwatch.SubscriptionChannel(id))
	if n := len(rc.got()); n != 6 {
		t.Fatalf("a paused subscription got %d", n-6)
	}
	if code, body, _ := e.call(t, http.MethodPatch, fmt.Sprintf("/subscriptions/%d", id), `{"paused":false,"description":"acme on-call"}`); code != 200 || body["state"] != "active" || body["description"] != "acme on-call" {
		t.Fatalf("resume: %d %v", code, body)
	}
	a4 := openIncident(t, e.db, "dest:a4", "acme")
	eventually(t, "the alert after resuming", func() bool { return len(rc.got()) == 7 })
	if last := rc.got()[6]; last.incident != a4.ID {
		t.Errorf("after resuming got incident %d, want %d (not %d, made while paused)", last.incident, a4.ID, a3.ID)
	}
	// Rotate: a new secret, once; both sign for 24 h.
	code, rot, raw := e.call(t, http.MethodPost, fmt.Sprintf("/subscriptions/%d/rotate", id), "")
	if code != 200 || rot["secret"] == secret || !strings.HasPrefix(rot["secret"].(string), "whsec_") || rot["previous_secret_expires_at"] == nil {
		t.Fatalf("rotate: %d %s", code, raw)
	}
	newV, _ := standardwebhooks.NewWebhook(rot["secret"].(string))
	rc.mu.Lock()
	rc.v = newV // the receiver moves to the new secret at once
	rc.mu.Unlock()
	openIncident(t, e.db, "dest:a5", "acme")
	eventually(t, "an alert after rotating", func() bool { return len(rc.got()) == 8 })
	if sigs := strings.Fields(rc.got()[7].sig); len(sigs) != 2 {
		t.Errorf("after rotating: %d signatures, want 2", len(sigs))
	}
	// Delete: gone; nothing more is sent.
	if code, _, _ := e.call(t, http.MethodDelete, fmt.Sprintf("/subscriptions/%d", id), ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, _, _ := e.call(t, http.MethodGet, fmt.Sprintf("/subscriptions/%d", id), ""); code != http.StatusNotFound {
		t.Errorf("GET after delete: %d", code)
	}
	if code, _, raw := e.call(t, http.MethodPost, fmt.Sprintf("/deliveries/%d/redeliver", delID), ""); code != http.StatusConflict {
		t.Errorf("redelivering to a deleted subscription: %d %s, want 409", code, raw)
	}
	if b, _ := e.db.OutboxBacklog(context.Background()); b.Pending != 0 {
		t.Errorf("%d deliveries pending after the subscription was deleted", b.Pending)
	}
	openIncident(t, e.db, "dest:a6", "acme")
	settled(t, e, linkwatch.SubscriptionChannel(id)) // as a dispatcher that read the list before the delete would
	if n := len(rc.got()); n != 8 {
		t.Errorf("a deleted subscription got %d more", n-8)
	}
	for _, r := range rc.got() {
		if r.incident == a3.ID {
			t.Errorf("the alert made while the subscription was paused was sent: %+v", r)
		}
	}
}

// settled is the sync point of a test that shows nothing was sent: it
// fans the outbox out to channel (as the dispatcher does at each poll;
// fan-out is idempotent), then waits until no delivery is pending. Past
// it, whatever was to be sent has been (a delivery stays pending until
// its outcome is recorded, after the receiver answered), and nothing more
// will be: the receiver's count is final, however late the dispatcher ran.
func settled(t *testing.T, e *env, channel string) {
	t.Helper()
	ctx := context.Background()
	if err := e.db.FanOut(ctx, []string{channel}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no delivery pending", func() bool {
		b, err := e.db.OutboxBacklog(ctx)
		return err == nil && b.Pending == 0
	})
}

// A receiver that does not answer the verification with 2xx keeps the
// subscription pending; POST /verify tries again.
func TestSubscriptionVerificationRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, loopback, nil)
	rc, rsrv := newReceiver(t)
	rc.answers = []int{http.StatusInternalServerError}
	code, body, raw := e.call(t, http.MethodPost, "/subscriptions", fmt.Sprintf(`{"url":%q}`, rsrv.URL))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, raw)
	}
	id := int64(body["id"].(float64))
	eventually(t, "the failed verification", func() bool {
		_, b, _ := e.call(t, http.MethodGet, fmt.Sprintf("/subscriptions/%d", id), "")
		return b["verification_error"] != nil
	})
	if s := state(t, e, id); s != "pending_verification" {
		t.Fatalf("after a 500 to the verification: %s", s)
	}
	openIncident(t, e.db, "dest:x", "acme")
	settled(t, e, linkwatch.SubscriptionChannel(id))
	if n := len(rc.got()); n != 1 {
		t.Fatalf("an unverified subscription got %d requests, want only the verification", n)
	}
	if code, _, raw := e.call(t, http.MethodPost, fmt.Sprintf("/subscriptions/%d/verify", id), ""); code != http.StatusAccepted {
		t.Fatalf("verify: %d %s", code, raw)
	}
	eventually(t, "verified", func() bool { return state(t, e, id) == "active" })
	if code, _, _ := e.call(t, http.MethodPost, fmt.Sprintf("/subscriptions/%d/verify", id), ""); code != http.StatusConflict {
		t.Errorf("verifying an active subscription: %d, want 409", code)
	}
	// 410 to an alert: disabled, and shown so.
	rc.mu.Lock()
	rc.answers = []int{http.StatusGone}
	rc.mu.Unlock()
	openIncident(t, e.db, "dest:y", "acme")
	eventually(t, "disabled", func() bool { return state(t, e, id) == "disabled" })
	_, b, _ := e.call(t, http.MethodGet, fmt.Sprintf("/subscriptions/%d", id), "")
	if b["disabled_reason"] == nil || b["disabled_at"] == nil {
		t.Errorf("a disabled subscription does not say why: %v", b)
	}
}

// noNames resolves no name, as Go's resolver says it: with the address of
// the DNS server it asked.
type noNames struct{}

func (noNames) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.255.255.53:53", IsNotFound: true}
}

// resolver answers every name with one address.
type resolver struct{ ip string }

func (r resolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.ParseIP(r.ip)}}, nil
}

// The SSRF guard refuses a subscription URL that is, or resolves to, a
// private or loopback address (without probe.allow_private): a 400 naming
// url, nothing stored.
func TestSubscriptionURLGuardedAtCreation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, resolver{"10.1.2.3"})
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://[::1]:9/", "http://10.0.0.8/", "http://169.254.169.254/latest/meta-data", "https://hooks.internal.test/x"} {
		code, body, raw := e.call(t, http.MethodPost, "/subscriptions", fmt.Sprintf(`{"url":%q}`, u))
		if code != http.StatusBadRequest || body["field"] != "url" || !strings.Contains(body["error"].(string), "private") {
			t.Errorf("%s: %d %s", u, code, raw)
		}
	}
	if list, _ := e.db.ListSubscriptions(context.Background()); len(list) != 0 {
		t.Errorf("refused URLs were stored: %+v", list)
	}
}

func TestSubscriptionsAPIRequiresTheToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, loopback, nil)
	for _, r := range []struct{ method, path string }{
		{"GET", "/subscriptions"}, {"POST", "/subscriptions"}, {"GET", "/subscriptions/1"}, {"PATCH", "/subscriptions/1"},
		{"DELETE", "/subscriptions/1"}, {"POST", "/subscriptions/1/rotate"}, {"POST", "/subscriptions/1/verify"},
		{"POST", "/subscriptions/1/replay?since=2026-01-01T00:00:00Z"}, {"GET", "/deliveries?subscription=1"}, {"POST", "/deliveries/1/redeliver"},
	} {
		for _, tok := range []string{"", "wrong-token-0123456789"} {
			if code, _, _ := e.callAs(t, tok, r.method, r.path, `{"url":"https://hooks.example/"}`); code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d, want 401", r.method, r.path, tok, code)
			}
		}
	}
	if list, _ := e.db.ListSubscriptions(context.Background()); len(list) != 0 {
		t.Errorf("an unauthenticated request stored %+v", list)
	}
}

// Bad input on every endpoint: a 400 naming the field, and nothing
// changed in the database.
func TestSubscriptionsAPIRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, loopback, nil)
	rc, rsrv := newReceiver(t)
	id, _ := create(t, e, rc, rsrv.URL, `{"pages":["acme"]}`)
	openIncident(t, e.db, "dest:a", "acme")
	eventually(t, "the alert", func() bool { return len(rc.got()) == 2 })
	eventually(t, "its outcome recorded", func() bool { b, _ := e.db.OutboxBacklog(context.Background()); return b.Pending == 0 })
	before, err := e.db.Subscription(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	sub := fmt.Sprintf("/subscriptions/%d", id)
	for _, tc := range []struct {
		method, path, body, field string
	}{
		{"POST", "/subscriptions", `not json`, "(body)"},
		{"POST", "/subscriptions", `[]`, "(body)"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/"} {}`, "(body)"},
		{"POST", "/subscriptions", `{"uri":"https://hooks.example/"}`, "uri"},
		{"POST", "/subscriptions", `{}`, "url"},
		{"POST", "/subscriptions", `{"url":""}`, "url"},
		{"POST", "/subscriptions", `{"url":42}`, "url"},
		{"POST", "/subscriptions", `{"url":"ftp://hooks.example/"}`, "url"},
		{"POST", "/subscriptions", `{"url":"https://u:p@hooks.example/"}`, "url"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/` + strings.Repeat("a", 3000) + `"}`, "url"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","paused":true}`, "paused"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","description":"a\nb"}`, "description"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","description":"` + strings.Repeat("d", 501) + `"}`, "description"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":"acme"}`, "filters"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"pages":["gamma"]}}`, "filters.pages[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"pages":["a/b"]}}`, "filters.pages[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"links":["acme"]}}`, "filters.links[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"links":["gamma/x"]}}`, "filters.links[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"links":["acme/cart"]}}`, "filters.links[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"links":["acme/shop","beta/shop"]}}`, "filters.links[1]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"hosts":["<script>"]}}`, "filters.hosts[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"hosts":["*"]}}`, "filters.hosts[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"hosts":["shop.example","é.example"]}}`, "filters.hosts[1]"},
		{"PATCH", sub, `{"filters":{"links":["acme/cart"]}}`, "filters.links[0]"},
		{"PATCH", sub, `{"filters":{"hosts":["*.example"]}}`, "filters.hosts[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"hosts":["https://shop.example"]}}`, "filters.hosts[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"events":["incident.deleted"]}}`, "filters.events[0]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"events":["incident.opened","storage.unreachable"]}}`, "filters.events[1]"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"min_impact":"severe"}}`, "filters.min_impact"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"page":["acme"]}}`, "filters.page"},
		{"POST", "/subscriptions", `{"url":"https://hooks.example/","filters":{"pages":"acme"}}`, "filters.pages"},
		{"PATCH", sub, `{"filters":{"min_impact":3}}`, "filters.min_impact"},
		{"GET", "/subscriptions/abc", ``, "id"},
		{"GET", "/subscriptions/0", ``, "id"},
		{"PATCH", sub, `{}`, "(body)"},
		{"PATCH", sub, `{"url":"https://elsewhere.example/"}`, "url"},
		{"PATCH", sub, `{"paused":"yes"}`, "paused"},
		{"PATCH", sub, `{"filters":{"hosts":["Shop.Example"]}}`, "filters.hosts[0]"},
		{"PATCH", sub, `{"description":"x\u0000y"}`, "description"},
		{"PATCH", "/subscriptions/-1", `{"paused":true}`, "id"},
		{"DELETE", "/subscriptions/x", ``, "id"},
		{"POST", "/subscriptions/x/rotate", ``, "id"},
		{"POST", "/subscriptions/x/verify", ``, "id"},
		{"POST", sub + "/replay", ``, "since"},
		{"POST", sub + "/replay?since=yesterday", ``, "since"},
		{"POST", sub + "/replay?since=2026-13-01T00:00:00Z", ``, "since"},
		{"POST", sub + "/replay?since=" + time.Now().Add(time.Hour).Format(time.RFC3339), ``, "since"},
		{"POST", sub + "/replay?since=" + time.Now().Add(-8*24*time.Hour).Format(time.RFC3339), ``, "since"},
		{"POST", "/subscriptions/x/replay?since=2026-01-01T00:00:00Z", ``, "id"},
		{"POST", "/deliveries/x/redeliver", ``, "id"},
		{"GET", "/deliveries?limit=0", ``, "limit"},
		{"GET", "/deliveries?limit=5000", ``, "limit"},
		{"GET", "/deliveries?before=x", ``, "before"},
		{"GET", "/deliveries?subscription=x", ``, "subscription"},
		{"GET", "/deliveries?subscription=0", ``, "subscription"},
		{"GET", "/deliveries?subscription=1&channel=webhook:ops", ``, "subscription"},
		{"GET", "/deliveries?channel=a%0Ab", ``, "channel"},
	} {
		code, body, raw := e.call(t, tc.method, tc.path, tc.body)
		if code != http.StatusBadRequest || body["field"] != tc.field {
			t.Errorf("%s %s %.80s: %d %s, want 400 naming %s", tc.method, tc.path, tc.body, code, raw, tc.field)
		}
	}
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/subscriptions/999", ``, 404},
		{"PATCH", "/subscriptions/999", `{"paused":true}`, 404},
		{"DELETE", "/subscriptions/999", ``, 404},
		{"POST", "/subscriptions/999/rotate", ``, 404},
		{"POST", "/subscriptions/999/verify", ``, 404},
		{"POST", "/subscriptions/999/replay?since=" + time.Now().Add(-time.Hour).Format(time.RFC3339), ``, 404},
		{"POST", "/deliveries/999/redeliver", ``, 404},
		{"PUT", sub, `{}`, 405},
	} {
		if code, _, raw := e.call(t, tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, raw, tc.want)
		}
	}
	after, err := e.db.Subscription(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Description != before.Description || after.Secret != before.Secret || after.Paused || len(after.Filter.Pages) != 1 ||
		len(after.Filter.Hosts) != 0 || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("bad requests changed the subscription:\nbefore %+v\nafter  %+v", before, after)
	}
	if list, _ := e.db.ListSubscriptions(context.Background()); len(list) != 1 {
		t.Errorf("bad requests stored %d subscriptions", len(list))
	}
	if log, _ := e.db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Limit: 10}); len(log) != 1 || log[0].Redeliveries != 0 || log[0].Status != "sent" {
		t.Errorf("bad requests queued deliveries again: %+v", log)
	}
}

// Replay keeps an incident's story whole as delivery does: with
// min_impact major, an incident that opened major and eased to minor is
// replayed with its update and resolution; one minor throughout is not.
func TestReplayFollowsAnIncidentPastMinImpact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, loopback, nil)
	rc, rsrv := newReceiver(t)
	id, _ := create(t, e, rc, rsrv.URL+"/hook", `{"min_impact":"major"}`)
	ctx := context.Background()
	since := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	record := func(inc linkwatch.Incident, typ linkwatch.AlertType) linkwatch.Incident {
		t.Helper()
		saved, err := e.db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: typ, Reason: "cause_changed"}})
		if err != nil {
			t.Fatal(err)
		}
		return saved
	}
	inc := openIncident(t, e.db, "dest:eased", "acme")
	inc.Impact = linkwatch.ImpactMinor
	inc = record(inc, linkwatch.AlertUpdated)
	inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, e.db.Now()
	record(inc, linkwatch.AlertResolved)
	now := e.db.Now()
	record(linkwatch.Incident{Key: "dest:minor", Kind: linkwatch.KindDestination, Title: "slow", Cause: linkwatch.CauseHTTP5xx,
		Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMinor, Targets: []string{"https://slow.example/"}, StartedAt: now, UpdatedAt: now,
		Affected: []linkwatch.Affected{{Page: "acme", Link: "slow", URL: "https://slow.example/"}}}, linkwatch.AlertOpened)
	eventually(t, "the story delivered", func() bool { return len(rc.got()) == 4 })
	eventually(t, "its outcomes recorded", func() bool { b, _ := e.db.OutboxBacklog(ctx); return b.Pending == 0 })
	code, rep, raw := e.call(t, http.MethodPost, fmt.Sprintf("/subscriptions/%d/replay?since=%s", id, since), "")
	if code != http.StatusAccepted || rep["queued"].(float64) != 3 {
		t.Fatalf("replay: %d %s; want the eased incident's 3 alerts", code, raw)
	}
	eventually(t, "the replay", func() bool { return len(rc.got()) == 7 })
	var types []string
	for _, r := range rc.got()[1:] {
		if r.incident != inc.ID {
			t.Errorf("incident %d (minor throughout) was sent", r.incident)
		}
		types = append(types, r.typ)
	}
	want := []string{"incident.opened", "incident.updated", "incident.resolved"}
	if !slices.Equal(types, append(slices.Clone(want), want...)) {
		t.Errorf("sent %v, want the story twice: %v", types, want)
	}
}

// A subscription URL whose name does not resolve is refused naming the
// host, never the address of the DNS server asked (Go's resolver puts it
// in its errors): at creation, and in what the API shows of a
// verification or a delivery that failed on it later.
func TestSubscriptionURLErrorsHideTheResolver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, loopback, noNames{}) // every name fails, "on 10.255.255.53:53"
	code, body, raw := e.call(t, http.MethodPost, "/subscriptions", `{"url":"https://hooks.example.invalid/x"}`)
	if code != http.StatusBadRequest || body["field"] != "url" || body["error"] != "url: cannot resolve host hooks.example.invalid: no such host" {
		t.Errorf("create: %d %s", code, raw)
	}
	if list, _ := e.db.ListSubscriptions(context.Background()); len(list) != 0 {
		t.Errorf("a URL that does not resolve was stored: %+v", list)
	}
	// Names that stopped resolving after they were made: one pending
	// verification, one verified and sent an alert.
	ctx := context.Background()
	pending, err := e.db.CreateSubscription(ctx, linkwatch.Subscription{URL: "https://gone.example.invalid/hook", Secret: alerting.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	active, err := e.db.CreateSubscription(ctx, linkwatch.Subscription{URL: "https://gone.example.invalid/other", Secret: alerting.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordVerification(ctx, active.ID, linkwatch.Outcome{Status: "sent"}); err != nil {
		t.Fatal(err)
	}
	openIncident(t, e.db, "dest:a", "acme")
	eventually(t, "the failed verification", func() bool {
		_, b, _ := e.call(t, http.MethodGet, fmt.Sprintf("/subscriptions/%d", pending.ID), "")
		return b["verification_error"] != nil
	})
	eventually(t, "the failed delivery", func() bool {
		_, b, _ := e.call(t, http.MethodGet, fmt.Sprintf("/deliveries?subscription=%d", active.ID), "")
		l, _ := b["deliveries"].([]any)
		if len(l) != 1 {
			return false
		}
		// Absent until the attempt has failed, then the error.
		lastErr, _ := l[0].(map[string]any)["last_error"].(string)
		return lastErr != ""
	})
	for _, path := range []string{fmt.Sprintf("/subscriptions/%d", pending.ID), fmt.Sprintf("/deliveries?subscription=%d", active.ID), "/subscriptions"} {
		_, _, raw := e.call(t, http.MethodGet, path, "")
		if strings.Contains(raw, "10.255.255.53") || !strings.Contains(raw, "cannot resolve host gone.example.invalid: no such host") {
			t.Errorf("GET %s: %s", path, raw)
		}
	}
}

// A subscription paused while an incident opens and resolves, then
// resumed, gets both alerts by replay: in order, with their original
// webhook-ids, signed (the receiver verifies every request with the
// Standard Webhooks library).
func TestReplayAfterResumeSendsWhatWasMissedWhilePaused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, loopback, nil)
	rc, rsrv := newReceiver(t)
	id, _ := create(t, e, rc, rsrv.URL+"/hook", `{"pages":["acme"]}`)
	ctx := context.Background()
	since := e.db.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	if code, body, _ := e.call(t, http.MethodPatch, fmt.Sprintf("/subscriptions/%d", id), `{"paused":true}`); code != 200 || body["state"] != "paused" {
		t.Fatalf("pause: %d %v", code, body)
	}
	inc := openIncident(t, e.db, "dest:missed", "acme")
	// A fan-out while paused (the dispatcher's, done here to be sure it
	// came before the resolution): the opening is skipped, not pending.
	if err := e.db.FanOut(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := e.db.OutboxBacklog(ctx); b.Pending != 0 {
		t.Fatalf("%d deliveries pending for a paused subscription", b.Pending)
	}
	inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, e.db.Now()
	if _, err := e.db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertResolved}}); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := e.call(t, http.MethodPatch, fmt.Sprintf("/subscriptions/%d", id), `{"paused":false}`); code != 200 || body["state"] != "active" {
		t.Fatalf("resume: %d %v", code, body)
	}
	if n := len(rc.got()); n != 1 {
		t.Fatalf("a paused subscription got %d requests beside its verification", n-1)
	}
	code, rep, raw := e.call(t, http.MethodPost, fmt.Sprintf("/subscriptions/%d/replay?since=%s", id, since), "")
	if code != http.StatusAccepted || rep["queued"].(float64) != 2 {
		t.Fatalf("replay: %d %s; want the 2 alerts missed while paused", code, raw)
	}
	eventually(t, "the replay", func() bool { return len(rc.got()) == 3 })
	outbox, err := e.db.Outbox(ctx, 10)
	if err != nil || len(outbox) != 2 {
		t.Fatalf("outbox: %+v, %v", outbox, err)
	}
	for i, r := range rc.got()[1:] {
		if r.id != outbox[i].EventID || r.eventID != outbox[i].EventID || r.typ != string(outbox[i].Type) || r.incident != inc.ID {
			t.Errorf("request %d: webhook-id %s, %s of incident %d; want %s, %s of %d", i+1, r.id, r.typ, r.incident, outbox[i].EventID, outbox[i].Type, inc.ID)
		}
	}
	if outbox[0].Type != linkwatch.AlertOpened || outbox[1].Type != linkwatch.AlertResolved {
		t.Errorf("outbox order: %s, %s", outbox[0].Type, outbox[1].Type)
	}
}
