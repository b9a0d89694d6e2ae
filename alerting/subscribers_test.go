package alerting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"linkwatch/alerting"
	"linkwatch/checker"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

// subReceiver is a subscription's endpoint: it verifies every request
// with the official Standard Webhooks library and the secret it was given,
// and answers with scripted statuses (200 once they run out).
type subReceiver struct {
	t        *testing.T
	mu       sync.Mutex
	verifier *standardwebhooks.Webhook
	statuses []int
	bodies   []map[string]any
	headers  []http.Header
	calls    int
}

func (rc *subReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.verifier != nil {
		if err := rc.verifier.VerifyIgnoringTimestamp(body, r.Header); err != nil {
			rc.t.Errorf("signature does not verify: %v", err)
		}
	}
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	w.WriteHeader(status)
	if status < 300 {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			rc.t.Errorf("not JSON: %v", err)
		}
		rc.bodies = append(rc.bodies, m)
		rc.headers = append(rc.headers, r.Header.Clone())
	}
}

func (rc *subReceiver) setSecret(secret string) {
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.mu.Lock()
	rc.verifier = v
	rc.mu.Unlock()
}

func (rc *subReceiver) script(statuses ...int) {
	rc.mu.Lock()
	rc.statuses = statuses
	rc.mu.Unlock()
}

// types returns the event types received, in order.
func (rc *subReceiver) types() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, b := range rc.bodies {
		out = append(out, b["type"].(string))
	}
	return out
}

func (rc *subReceiver) body(i int) map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.bodies[i]
}

func newSubReceiver(t *testing.T) (*subReceiver, *httptest.Server) {
	rc := &subReceiver{t: t}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // a poll: the dispatcher and its receiver run in real time
	}
}

// runDispatcher runs a dispatcher for subscriptions only, polling fast.
// rounds is a dispatcher's store that counts the dispatcher's rounds:
// each reads the subscriptions, then fans the outbox out once. A test that
// gives the dispatcher the chance to (wrongly) act waits for rounds, not
// for a duration.
type rounds struct {
	*sqlite.DB
	n atomic.Int64
}

func (r *rounds) FanOut(ctx context.Context, channels []string) error {
	r.n.Add(1)
	return r.DB.FanOut(ctx, channels)
}

// wait waits until n more rounds have begun: all but the first of them
// read the subscriptions after wait was called.
func (r *rounds) wait(t *testing.T, n int64) {
	t.Helper()
	from := r.n.Load()
	eventually(t, fmt.Sprintf("%d dispatcher rounds", n), func() bool { return r.n.Load() >= from+n })
}

func runDispatcher(t *testing.T, db *sqlite.DB, clk *clock, dial alerting.DialFunc, sinks ...alerting.Sink) *rounds {
	t.Helper()
	r := &rounds{DB: db}
	d := alerting.NewDispatcher(r, sinks, nil, quietLog())
	d.SetClock(clk.Now)
	d.SetPoll(20 * time.Millisecond)
	db.SetClock(clk.Now)
	d.Subscribe(db, dial)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// hostIncident records a host incident on shop.example touching the
// pages acme and beta, with its opening alert.
func hostIncident(t *testing.T, db *sqlite.DB, key string) linkwatch.Incident {
	t.Helper()
	now := db.Now()
	inc := linkwatch.Incident{Key: key, Kind: linkwatch.KindHost, Title: "shop.example: 2 destinations failing", Cause: linkwatch.CauseHTTP5xx,
		Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Host: "shop.example",
		Targets:   []string{"https://shop.example/a", "https://shop.example/b"},
		Affected:  []linkwatch.Affected{{Page: "acme", Link: "shop", URL: "https://shop.example/a"}, {Page: "beta", Link: "store", URL: "https://shop.example/b"}},
		StartedAt: now, UpdatedAt: now}
	saved, err := db.Record(context.Background(), incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

func subscription(t *testing.T, db *sqlite.DB, id int64) linkwatch.Subscription {
	t.Helper()
	s, err := db.Subscription(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func affectedPages(body map[string]any) []string {
	var out []string
	for _, a := range body["data"].(map[string]any)["incident"].(map[string]any)["affected"].([]any) {
		m := a.(map[string]any)
		out = append(out, m["page"].(string)+"/"+m["link"].(string))
	}
	return out
}

// Two subscriptions, made while the dispatcher runs, each verified and
// then sent the host incident with only its own page's links.
func TestSubscriptionsVerifyThenGetTheirPageOnly(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{now: time.Now().UTC()}
	rounds := runDispatcher(t, db, clk, nil)
	ctx := context.Background()
	recv := map[string]*subReceiver{}
	subs := map[string]linkwatch.Subscription{}
	for _, page := range []string{"acme", "beta"} {
		rc, srv := newSubReceiver(t)
		secret := alerting.NewSecret()
		rc.setSecret(secret)
		s, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: srv.URL + "/hook", Secret: secret, Filter: linkwatch.Filter{Pages: []string{page}}})
		if err != nil {
			t.Fatal(err)
		}
		recv[page], subs[page] = rc, s
	}
	for page, rc := range recv {
		eventually(t, page+"'s verification", func() bool { return subscription(t, db, subs[page].ID).State() == linkwatch.SubscriptionActive })
		if got := rc.types(); !slices.Equal(got, []string{"subscription.verify"}) {
			t.Fatalf("%s got %v before any alert, want the verification", page, got)
		}
		if id := rc.body(0)["data"].(map[string]any)["subscription_id"].(float64); int64(id) != subs[page].ID {
			t.Errorf("verification names subscription %v", id)
		}
	}
	inc := hostIncident(t, db, "host:shop.example|http_5xx")
	for page, rc := range recv {
		eventually(t, page+"'s alert", func() bool { return len(rc.types()) == 2 })
		b := rc.body(1)
		if b["type"] != "incident.opened" || int64(b["data"].(map[string]any)["incident"].(map[string]any)["id"].(float64)) != inc.ID {
			t.Fatalf("%s got %v", page, b)
		}
		want := map[string][]string{"acme": {"acme/shop"}, "beta": {"beta/store"}}[page]
		if got := affectedPages(b); !slices.Equal(got, want) {
			t.Errorf("%s got the links %v, want %v only", page, got, want)
		}
	}
	// A filter changed through the store takes effect without a restart;
	// an alert it leaves out is not in the delivery log, and never pending.
	critical := linkwatch.Filter{Pages: []string{"acme"}, MinImpact: linkwatch.ImpactCritical}
	if _, err := db.UpdateSubscription(ctx, subs["acme"].ID, linkwatch.SubscriptionPatch{Filter: &critical}); err != nil {
		t.Fatal(err)
	}
	rounds.wait(t, 3) // the dispatcher has read the new filter
	hostIncident(t, db, "host:other.example|dns")
	eventually(t, "beta's second alert", func() bool { return len(recv["beta"].types()) == 3 })
	eventually(t, "acme's delivery settled", func() bool { b, _ := db.OutboxBacklog(ctx); return b.Pending == 0 })
	if got := recv["acme"].types(); len(got) != 2 {
		t.Errorf("acme, now critical only, got %v", got)
	}
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: subs["acme"].Channel(), Limit: 10})
	if err != nil || len(log) != 1 || log[0].Status != "sent" {
		t.Fatalf("acme's log: %+v, %v", log, err)
	}
}

// Paused gets nothing; resumed gets what is made from then on; a 410
// disables it; a receiver answering 500 then 200 gets the alert, and
// failing since says when the failures began and clears once sent.
func TestSubscriptionPauseResumeFailuresAndGone(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{now: time.Now().UTC()}
	rounds := runDispatcher(t, db, clk, nil)
	ctx := context.Background()
	rc, srv := newSubReceiver(t)
	secret := alerting.NewSecret()
	rc.setSecret(secret)
	s, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: srv.URL, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "verification", func() bool { return subscription(t, db, s.ID).State() == linkwatch.SubscriptionActive })
	paused := true
	if _, err := db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	rounds.wait(t, 3) // the dispatcher has read the pause: the loop stops
	hostIncident(t, db, "host:paused.example|dns")
	rounds.wait(t, 10) // ten chances to (wrongly) send it
	if got := rc.types(); len(got) != 1 {
		t.Fatalf("a paused subscription got %v", got)
	}
	paused = false
	if _, err := db.UpdateSubscription(ctx, s.ID, linkwatch.SubscriptionPatch{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	rc.script(500)
	failAt := clk.Now()
	inc := hostIncident(t, db, "host:resumed.example|dns")
	eventually(t, "the failure recorded", func() bool { return !subscription(t, db, s.ID).FailingSince.IsZero() })
	if got := subscription(t, db, s.ID).FailingSince; !got.Equal(failAt) {
		t.Errorf("failing since %v, want %v", got, failAt)
	}
	clk.Add(time.Minute) // past the first backoff
	eventually(t, "the retry", func() bool { return len(rc.types()) == 2 })
	if id := rc.body(1)["data"].(map[string]any)["incident"].(map[string]any)["id"].(float64); int64(id) != inc.ID {
		t.Errorf("after resuming, got incident %v, want %d (not the one made while paused)", id, inc.ID)
	}
	eventually(t, "failing since cleared", func() bool { return subscription(t, db, s.ID).FailingSince.IsZero() })
	rc.script(http.StatusGone)
	hostIncident(t, db, "host:gone.example|dns")
	eventually(t, "disabled by 410", func() bool { return subscription(t, db, s.ID).State() == linkwatch.SubscriptionDisabled })
	hostIncident(t, db, "host:after.example|dns")
	rounds.wait(t, 10) // ten chances to (wrongly) send it
	rc.mu.Lock()
	calls := rc.calls
	rc.mu.Unlock()
	if calls != 4 { // verify, 500, 200, 410
		t.Errorf("%d calls, want 4: a disabled subscription is called no more", calls)
	}
}

// During the overlap after a rotation, a receiver on either secret
// verifies every delivery (the official library); after 24 h only the new
// secret signs.
func TestRotationSignsWithBothSecretsFor24Hours(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := alerting.NewSecret(), alerting.NewSecret()
	clk := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	sub := linkwatch.Subscription{ID: 3, Secret: newSecret, PreviousSecret: oldSecret, PreviousUntil: clk.Now().Add(linkwatch.SecretOverlap)}
	var mu sync.Mutex
	var bodies [][]byte
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, headers = append(bodies, b), append(headers, r.Header.Clone())
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	sub.URL = srv.URL
	wh, err := alerting.NewSubscriptionWebhook(sub, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	oldV, _ := standardwebhooks.NewWebhook(oldSecret)
	newV, _ := standardwebhooks.NewWebhook(newSecret)
	send := func() ([]byte, http.Header) {
		if err := wh.Send(context.Background(), alerting.Delivery{Alert: testAlert(1, linkwatch.AlertOpened)}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return bodies[len(bodies)-1], headers[len(headers)-1]
	}
	body, h := send()
	if sigs := strings.Fields(h.Get("webhook-signature")); len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Fatalf("signature header during the overlap = %q, want two v1 signatures", h.Get("webhook-signature"))
	}
	for name, v := range map[string]*standardwebhooks.Webhook{"old": oldV, "new": newV} {
		if err := v.VerifyIgnoringTimestamp(body, h); err != nil {
			t.Errorf("during the overlap the %s secret does not verify: %v", name, err)
		}
	}
	clk.Add(linkwatch.SecretOverlap - time.Second)
	if body, h = send(); oldV.VerifyIgnoringTimestamp(body, h) != nil {
		t.Error("a second before the overlap ends the old secret no longer verifies")
	}
	clk.Add(2 * time.Second)
	body, h = send()
	if err := newV.VerifyIgnoringTimestamp(body, h); err != nil {
		t.Errorf("after the overlap the new secret does not verify: %v", err)
	}
	if err := oldV.VerifyIgnoringTimestamp(body, h); err == nil {
		t.Errorf("after the overlap the old secret still verifies: %q", h.Get("webhook-signature"))
	}
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 1 {
		t.Errorf("%d signatures after the overlap", n)
	}
}

// fakeResolver answers every name with the address it holds now.
type fakeResolver struct {
	mu sync.Mutex
	ip net.IP
}

func (f *fakeResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []net.IPAddr{{IP: f.ip}}, nil
}

// A subscription URL that passed the guard when made, and whose DNS now
// answers with a private address, is never called: not for its
// verification, not for an alert.
func TestSubscriptionURLTurnedPrivateIsNotCalled(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{now: time.Now().UTC()}
	rc, srv := newSubReceiver(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	res := &fakeResolver{ip: net.ParseIP("93.184.216.34")}
	guard := checker.NewURLGuard(res, nil, time.Second)
	url := fmt.Sprintf("http://hooks.subscriber.test:%s/hook", port)
	if err := guard.Check(context.Background(), url); err != nil {
		t.Fatalf("a public address is refused: %v", err)
	}
	res.mu.Lock()
	res.ip = net.ParseIP("127.0.0.1") // where the receiver really is: DNS rebinding
	res.mu.Unlock()
	if err := guard.Check(context.Background(), url); err == nil {
		t.Fatal("the guard allows a name resolving to loopback")
	}
	ctx := context.Background()
	s, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: url, Secret: alerting.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	// A second one, already verified, to see an alert refused too.
	s2, err := db.CreateSubscription(ctx, linkwatch.Subscription{URL: url, Secret: alerting.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RecordVerification(ctx, s2.ID, linkwatch.Outcome{Status: "sent"}); err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, db, clk, guard.Dial)
	eventually(t, "the verification refused", func() bool { return subscription(t, db, s.ID).VerifyError != "" })
	if got := subscription(t, db, s.ID); got.State() != linkwatch.SubscriptionPending || !strings.Contains(got.VerifyError, "SSRF guard") {
		t.Errorf("after a refused verification: %s, %q", got.State(), got.VerifyError)
	}
	hostIncident(t, db, "host:shop.example|dns")
	eventually(t, "the alert dead-lettered", func() bool {
		log, _ := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Channel: s2.Channel(), Limit: 1})
		return len(log) == 1 && log[0].Status == "dead"
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.calls != 0 {
		t.Errorf("the receiver was called %d times through a private address", rc.calls)
	}
}

// An alert a channel's filters leave out is settled at once, even behind
// an earlier alert of its incident that keeps failing: it never counts as
// pending nor shows in the delivery log.
func TestFilteredAlertIsNeverPendingBehindAFailingOne(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 0)
	queueIncidentAlerts(t, db, 3) // opened, then two updates
	_, srv := newReceiver(t, 503, 503, 503)
	wh, err := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	wh.SetFilter(linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertOpened, linkwatch.AlertResolved}})
	d := newDispatcher(t, db, clk, wh)
	drain(t, db, d, wh)
	if b, _ := db.OutboxBacklog(context.Background()); b.Pending != 1 {
		t.Errorf("%d pending, want only the failing opening", b.Pending)
	}
	log, err := db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Channel: wh.Name(), Limit: 10})
	if err != nil || len(log) != 1 || log[0].Type != linkwatch.AlertOpened || log[0].Status != "pending" {
		t.Errorf("log = %+v, %v", log, err)
	}
}

// Two replicas share the database: a subscription's verification is due
// on both, and its receiver is slow to answer. It gets one
// subscription.verify, not one per replica.
func TestVerificationSentByOneReplica(t *testing.T) {
	t.Parallel()
	db := sqlitetest.MustOpen(t)
	clk := &clock{now: time.Now().UTC()}
	rc := &subReceiver{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // several polls of every replica
		rc.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	secret := alerting.NewSecret()
	rc.setSecret(secret)
	s, err := db.CreateSubscription(context.Background(), linkwatch.Subscription{URL: srv.URL + "/hook", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	db.SetClock(clk.Now)
	for _, owner := range []string{"replica-a", "replica-b"} {
		d := alerting.NewDispatcher(db, nil, nil, quietLog())
		d.SetClock(clk.Now)
		d.SetPoll(20 * time.Millisecond)
		d.SetClaim(owner, time.Minute)
		d.Subscribe(db, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	eventually(t, "the verification", func() bool { return subscription(t, db, s.ID).State() == linkwatch.SubscriptionActive })
	time.Sleep(400 * time.Millisecond) // a second one, if sent, has arrived
	if got := rc.types(); !slices.Equal(got, []string{"subscription.verify"}) {
		t.Fatalf("the receiver got %v, want one verification", got)
	}
}
