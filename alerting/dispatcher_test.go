package alerting_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

// queueAlerts opens n incidents through the store, each writing its alert to
// the outbox in the same transaction, and returns their event ids in order.
func queueAlerts(t *testing.T, db *sqlite.DB, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		inc := testAlert(0, linkwatch.AlertOpened).Incident
		inc.Key = "dest:https://shop.example/" + jsonNum(int64(i))
		if _, err := db.Record(context.Background(), incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.Outbox(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range out[len(out)-n:] {
		ids = append(ids, a.EventID)
	}
	return ids
}

// queueIncidentAlerts records one incident's opening and n-1 updates, each
// writing its alert in the change's transaction, and returns their event ids
// in order.
func queueIncidentAlerts(t *testing.T, db *sqlite.DB, n int) []string {
	t.Helper()
	ctx := context.Background()
	inc, err := db.Record(ctx, incidents.Change{Incident: testAlert(0, linkwatch.AlertOpened).Incident, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}})
	if err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		if inc, err = db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "cause_changed"}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.Outbox(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range out[len(out)-n:] {
		ids = append(ids, a.EventID)
	}
	return ids
}

// outbox is a database on a fake clock holding n queued alerts, with their
// event ids in order.
func outbox(t *testing.T, n int) (*sqlite.DB, *clock, []string) {
	t.Helper()
	db := sqlitetest.MustOpen(t)
	clk := &clock{now: time.Now().UTC()}
	db.SetClock(clk.Now)
	return db, clk, queueAlerts(t, db, n)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newDispatcher(t *testing.T, db *sqlite.DB, clk *clock, sinks ...alerting.Sink) *alerting.Dispatcher {
	t.Helper()
	d := alerting.NewDispatcher(db, sinks, nil, quietLog())
	d.SetClock(clk.Now)
	db.SetClock(clk.Now)
	return d
}

// drain runs one dispatcher round: fan-out and every sink's queue.
func drain(t *testing.T, db *sqlite.DB, d *alerting.Dispatcher, sinks ...alerting.Sink) {
	t.Helper()
	var names []string
	for _, s := range sinks {
		names = append(names, s.Name())
	}
	if err := db.FanOut(context.Background(), names); err != nil {
		t.Fatal(err)
	}
	for _, s := range sinks {
		if err := d.Drain(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReceiverDownThenBackGetsEverythingInOrder(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 0)
	want := queueIncidentAlerts(t, db, 3)
	rc, srv := newReceiver(t, 503, 503, 500, 503)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	d := newDispatcher(t, db, clk, wh)
	// Each round the incident's head delivery fails until the receiver
	// recovers; its later alerts wait behind it so the order holds.
	for range 10 {
		drain(t, db, d, wh)
		clk.Add(3 * time.Minute)
	}
	var got []string
	for _, b := range rc.received() {
		got = append(got, b.Data.EventID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("received %v, want %v in order", got, want)
	}
	log, err := db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	attempts := map[string]int{}
	for _, l := range log {
		if l.Status != "sent" {
			t.Errorf("delivery %d status %s (%s)", l.ID, l.Status, l.LastError)
		}
		attempts[l.EventID] = l.Attempts
	}
	if attempts[want[0]] != 5 || attempts[want[1]] != 1 {
		t.Errorf("attempts = %v, want 5 for the first (4 failures) and 1 for the rest", attempts)
	}
}

// TestStuckIncidentHoldsBackNoOther: a receiver that keeps failing one
// incident's alert (500 on it, every time) still gets every alert of the
// other incidents, in their order, while the stuck one is retried.
func TestStuckIncidentHoldsBackNoOther(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 0)
	stuck := queueIncidentAlerts(t, db, 2)
	others := queueAlerts(t, db, 3)
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		if slices.Contains(stuck, id) {
			http.Error(w, "cannot take this one", http.StatusInternalServerError)
			return
		}
		mu.Lock()
		got = append(got, id)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	d := newDispatcher(t, db, clk, wh)
	drain(t, db, d, wh)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, others) {
		t.Fatalf("received %v, want the other incidents' %v at once", got, others)
	}
	log, _ := db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Limit: 10})
	for _, l := range log {
		switch {
		case l.EventID == stuck[0] && (l.Status != "pending" || l.Attempts != 1):
			t.Errorf("stuck head: %+v, want pending after one attempt", l)
		case l.EventID == stuck[1] && l.Attempts != 0:
			t.Errorf("the stuck incident's second alert was tried before its first: %+v", l)
		}
	}
}

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 1)
	_, srv := newReceiver(t, 500, 500, 500, 500, 500, 500, 500)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	d := newDispatcher(t, db, clk, wh)
	wantDelays := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, time.Hour}
	for i, want := range wantDelays {
		drain(t, db, d, wh)
		log, _ := db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Limit: 1})
		got := log[0].NextAt.Sub(clk.Now())
		if got < want*8/10 || got > want*12/10 {
			t.Fatalf("after attempt %d: next in %v, want about %v", i+1, got, want)
		}
		clk.Add(got)
	}
}

func TestDeadLetterAndDisable(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 2)
	_, bad := newReceiver(t, 400, 400)
	_, gone := newReceiver(t, 410)
	badSink, _ := alerting.NewWebhook("bad", bad.URL, testSecret, nil)
	goneSink, _ := alerting.NewWebhook("gone", gone.URL, testSecret, nil)
	d := newDispatcher(t, db, clk, badSink, goneSink)
	drain(t, db, d, badSink, goneSink)
	drain(t, db, d, badSink, goneSink)
	log, _ := db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Limit: 10})
	status := map[string][]linkwatch.DeliveryStatus{}
	for _, l := range log {
		status[l.Channel] = append(status[l.Channel], l.Status)
	}
	if !slices.Equal(status["webhook:bad"], []linkwatch.DeliveryStatus{"dead", "dead"}) {
		t.Errorf("400 deliveries: %v, want dead-lettered", status["webhook:bad"])
	}
	if !slices.Equal(status["webhook:gone"], []linkwatch.DeliveryStatus{"disabled", "disabled"}) {
		t.Errorf("410 deliveries: %v, want the endpoint disabled", status["webhook:gone"])
	}
	off, _ := db.DisabledChannels(context.Background())
	if _, ok := off["webhook:gone"]; !ok {
		t.Errorf("disabled channels = %v", off)
	}
}

func TestGiveUpAfter24Hours(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 1)
	statuses := make([]int, 100)
	for i := range statuses {
		statuses[i] = 503
	}
	_, srv := newReceiver(t, statuses...)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	d := newDispatcher(t, db, clk, wh)
	for range 40 {
		drain(t, db, d, wh)
		clk.Add(time.Hour + 15*time.Minute)
	}
	log, _ := db.DeliveryLog(context.Background(), linkwatch.DeliveryQuery{Limit: 1})
	if log[0].Status != "dead" || log[0].Attempts > 30 {
		t.Errorf("after a day of failures: %+v", log[0])
	}
}

// crashingSink fails the way a killed process does: the send reaches the
// receiver but the process dies before recording it.
type crashingSink struct {
	alerting.Sink
	crashOn string
	cancel  context.CancelFunc
}

func (c *crashingSink) Send(ctx context.Context, d alerting.Delivery) error {
	err := c.Sink.Send(ctx, d)
	if d.Alert.EventID == c.crashOn {
		c.cancel()
	}
	return err
}

func TestKillAndRestartLosesNothing(t *testing.T) {
	t.Parallel()
	db, clk, want := outbox(t, 4)
	rc, srv := newReceiver(t)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	ctx, cancel := context.WithCancel(context.Background())
	crash := &crashingSink{Sink: wh, crashOn: want[1], cancel: cancel}
	d := newDispatcher(t, db, clk, crash)
	if err := db.FanOut(ctx, []string{crash.Name()}); err != nil {
		t.Fatal(err)
	}
	_ = d.Drain(ctx, crash) // dies after sending the second alert, before marking it
	// Restart: a new dispatcher over the same database.
	d2 := newDispatcher(t, db, clk, wh)
	drain(t, db, d2, wh)
	var got []string
	for _, b := range rc.received() {
		got = append(got, b.Data.EventID)
	}
	// The second alert may arrive twice (receivers dedupe on webhook-id); none is lost.
	if !slices.Equal(got, []string{want[0], want[1], want[1], want[2], want[3]}) {
		t.Errorf("received %v, want all of %v in order with at most the in-flight one repeated", got, want)
	}
}

// TestDisabledChannelIsNamedAtStart: a channel its receiver switched off
// (410) is said at start, with how to turn it back on.
func TestDisabledChannelIsNamedAtStart(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 0)
	if err := db.DisableChannel(context.Background(), "webhook:ops", "POST https://hooks.example/…: 410 Gone"); err != nil {
		t.Fatal(err)
	}
	_, srv := newReceiver(t)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	other, _ := alerting.NewWebhook("other", srv.URL, testSecret, nil)
	var logs syncBuffer
	d := alerting.NewDispatcher(db, []alerting.Sink{wh, other}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	d.SetClock(clk.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "disabled") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // a poll: the dispatcher runs in real time
	}
	cancel()
	<-done
	out := logs.String()
	if !strings.Contains(out, "channel=webhook:ops") || !strings.Contains(out, "410 Gone") || !strings.Contains(out, "/api/admin/channels") {
		t.Errorf("start-up log does not name the disabled channel: %s", out)
	}
	if strings.Contains(out, "channel=webhook:other") {
		t.Errorf("an enabled channel is reported disabled: %s", out)
	}
}

// blockingSink holds every send until the dispatcher stops.
type blockingSink struct{ started chan struct{} }

func (blockingSink) Name() string { return "blocking" }
func (s blockingSink) Send(ctx context.Context, _ alerting.Delivery) error {
	select {
	case s.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestStoppedDispatcherHandsItsClaimsBack: a replica stopping mid-send
// releases what it claimed, so another replica sends it at once rather
// than when the claim expires.
func TestStoppedDispatcherHandsItsClaimsBack(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 1)
	sink := blockingSink{started: make(chan struct{}, 1)}
	d := newDispatcher(t, db, clk, sink)
	d.SetClaim("replica-a", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	select {
	case <-sink.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the dispatcher never sent")
	}
	if got, _ := db.ClaimDeliveries(context.Background(), sink.Name(), "replica-b", time.Minute, 10); len(got) != 0 {
		t.Fatalf("another replica claimed a delivery being sent: %+v", got)
	}
	cancel()
	<-done
	got, err := db.ClaimDeliveries(context.Background(), sink.Name(), "replica-b", time.Minute, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("after the dispatcher stopped, another replica claimed %d deliveries (%v), want the one it was sending", len(got), err)
	}
}

// pendingReads counts the deliveries a dispatcher reads to settle the
// filtered ones.
type pendingReads struct {
	*sqlite.DB
	mu   sync.Mutex
	rows int
}

func (p *pendingReads) PendingDeliveries(ctx context.Context, channel string, after int64, limit int) ([]linkwatch.Delivery, error) {
	list, err := p.DB.PendingDeliveries(ctx, channel, after, limit)
	p.mu.Lock()
	p.rows += len(list)
	p.mu.Unlock()
	return list, err
}

func (p *pendingReads) read() int { p.mu.Lock(); defer p.mu.Unlock(); return p.rows }

// A receiver down for a day leaves a backlog pending. Each round (every
// poll, on every replica) looks only at deliveries its filters have not
// seen yet, not the whole backlog again; a sink without filters never
// reads it at all; a new filter looks at all of it once.
func TestSettlingFilteredReadsEachDeliveryOnce(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 20)
	_, srv := newReceiver(t, slices.Repeat([]int{503}, 100)...)
	plain, _ := alerting.NewWebhook("plain", srv.URL, testSecret, nil)
	picky, _ := alerting.NewWebhook("picky", srv.URL, testSecret, nil)
	picky.SetFilter(linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertOpened}, MinImpact: linkwatch.ImpactMinor})
	store := &pendingReads{DB: db}
	d := alerting.NewDispatcher(store, []alerting.Sink{plain, picky}, nil, quietLog())
	d.SetClock(clk.Now)
	drain(t, db, d, plain)
	if n := store.read(); n != 0 {
		t.Errorf("a sink without filters read %d pending deliveries to settle filtered ones", n)
	}
	for range 3 {
		drain(t, db, d, plain, picky)
	}
	if n := store.read(); n != 20 {
		t.Errorf("three rounds read %d pending deliveries, want each of the 20 once", n)
	}
	hostIncident(t, db, "host:shop.example|dns")
	drain(t, db, d, plain, picky)
	if n := store.read(); n != 21 {
		t.Errorf("a new alert: %d read in all, want 21", n)
	}
	picky2, _ := alerting.NewWebhook("picky", srv.URL, testSecret, nil)
	picky2.SetFilter(linkwatch.Filter{MinImpact: linkwatch.ImpactCritical})
	drain(t, db, d, picky2)
	if n := store.read(); n != 42 {
		t.Errorf("changed filters: %d read in all, want the 21 again (42)", n)
	}
	if b, _ := db.OutboxBacklog(context.Background()); b.Pending != 21 {
		t.Errorf("%d pending, want plain's 21 (picky's now filtered)", b.Pending)
	}
}

// min_impact chooses which incidents a receiver gets, not which of their
// alerts: an incident that opened major and eased to minor still reaches
// it with its update and its resolution, even when the opening failed
// first and they were queued behind it. An incident minor throughout
// never reaches it.
func TestMinImpactKeepsAnIncidentsStoryWhole(t *testing.T) {
	t.Parallel()
	db, clk, _ := outbox(t, 0)
	ctx := context.Background()
	record := func(inc linkwatch.Incident, typ linkwatch.AlertType) linkwatch.Incident {
		t.Helper()
		saved, err := db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: typ, Reason: "cause_changed"}})
		if err != nil {
			t.Fatal(err)
		}
		return saved
	}
	inc := record(testAlert(0, linkwatch.AlertOpened).Incident, linkwatch.AlertOpened)
	minor := testAlert(0, linkwatch.AlertOpened).Incident
	minor.Key, minor.Impact = "dest:https://slow.example/", linkwatch.ImpactMinor
	minor = record(minor, linkwatch.AlertOpened)
	inc.Impact, inc.Cause = linkwatch.ImpactMinor, "slow"
	inc = record(inc, linkwatch.AlertUpdated)
	inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, clk.Now()
	record(inc, linkwatch.AlertResolved)
	minor.Status, minor.ResolvedAt = linkwatch.StatusResolved, clk.Now()
	record(minor, linkwatch.AlertResolved)

	rc, srv := newReceiver(t, 503)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	wh.SetFilter(linkwatch.Filter{MinImpact: linkwatch.ImpactMajor})
	d := newDispatcher(t, db, clk, wh)
	drain(t, db, d, wh) // the opening fails
	clk.Add(time.Minute)
	drain(t, db, d, wh)
	drain(t, db, d, wh)
	var got []string
	for _, b := range rc.received() {
		got = append(got, string(b.Type)+" "+jsonNum(b.Data.Incident.ID))
	}
	want := []string{"incident.opened " + jsonNum(inc.ID), "incident.updated " + jsonNum(inc.ID), "incident.resolved " + jsonNum(inc.ID)}
	if !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
	if b, _ := db.OutboxBacklog(ctx); b.Pending != 0 {
		t.Errorf("%d pending", b.Pending)
	}
}

// TestKilledSendersClaimIsTakenOverWithinSeconds: a replica killed in the
// middle of a send leaves its claim, and no ReleaseClaims: another
// replica sends the alert again once the claim lease has passed by the
// database's clock, 20 s (two send timeouts), not minutes, with the same
// webhook-id, which the receiver deduplicates on.
func TestKilledSendersClaimIsTakenOverWithinSeconds(t *testing.T) {
	t.Parallel()
	db, clk, want := outbox(t, 1)
	rc, srv := newReceiver(t)
	wh, _ := alerting.NewWebhook("ops", srv.URL, testSecret, nil)
	ctx, kill := context.WithCancel(context.Background())
	victim := &crashingSink{Sink: wh, crashOn: want[0], cancel: kill}
	a := newDispatcher(t, db, clk, victim)
	a.SetClaim("replica-a", alerting.DefaultClaimLease)
	if err := db.FanOut(ctx, []string{victim.Name()}); err != nil {
		t.Fatal(err)
	}
	_ = a.Drain(ctx, victim) // killed once the alert reached the receiver, before recording it
	b := newDispatcher(t, db, clk, wh)
	b.SetClaim("replica-b", alerting.DefaultClaimLease)
	clk.Add(19 * time.Second)
	drain(t, db, b, wh)
	if ids := rc.idsGot(); len(ids) != 1 {
		t.Fatalf("webhook-ids received within the dead sender's claim: %v, want its one send", ids)
	}
	clk.Add(time.Second) // 20 s since the claim
	drain(t, db, b, wh)
	if ids := rc.idsGot(); !slices.Equal(ids, []string{want[0], want[0]}) {
		t.Fatalf("webhook-ids received 20 s after the sender was killed: %v, want %s sent again by the other replica", ids, want[0])
	}
}
