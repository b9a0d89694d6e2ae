package alerting_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"linkwatch"

	"linkwatch/alerting"
	"linkwatch/storage/sqlite/sqlitetest"
)

// storageSink is a channel in memory: it records what it was sent, and
// fails the first attempts it is told to.
type storageSink struct {
	name   string
	filter *linkwatch.Filter
	mu     sync.Mutex
	fails  []error // the answers of the next attempts; nil: delivered
	got    []alerting.StorageEvent
	tries  int
}

func (s *storageSink) Name() string { return s.name }

func (s *storageSink) SendStorage(_ context.Context, e alerting.StorageEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if len(s.fails) > 0 {
		err := s.fails[0]
		s.fails = s.fails[1:]
		return err
	}
	s.got = append(s.got, e)
	return nil
}

func (s *storageSink) events() []alerting.StorageEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *storageSink) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

func (s *storageSink) types() []linkwatch.AlertType {
	var out []linkwatch.AlertType
	for _, e := range s.events() {
		out = append(out, e.Type)
	}
	return out
}

// filteredSink is a storageSink with a receiver's filter.
type filteredSink struct{ *storageSink }

func (s filteredSink) Filter() linkwatch.Filter { return *s.filter }

var replica = linkwatch.Member{ID: "linkwatch-0-abcd1234", Region: "eu-west", Addr: "10.0.0.7:8080"}

// runAlerts starts a for the test's bubble and returns what stops it.
func runAlerts(a *alerting.StorageAlerts) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// One outage is one storage.unreachable, once the checks have failed for
// After (two at least), and one storage.reachable at the first check
// that passes; a blip shorter than After is neither.
func TestStorageAlertsOncePerOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sink := &storageSink{name: "webhook:ops"}
		a := alerting.NewStorageAlerts(alerting.StorageAlertOptions{After: 30 * time.Second, Replica: replica,
			Database: "postgres db.internal:5432", Senders: []alerting.StorageSender{sink}})
		defer runAlerts(a)()
		ctx := context.Background()
		down := errors.New("the database does not answer: connection refused")
		check := func(err error) {
			a.Observe(ctx, err)
			time.Sleep(5 * time.Second) // the bubble's clock
			synctest.Wait()
		}
		// A blip: 25 s of failures, then a pass.
		for range 5 {
			check(down)
		}
		check(nil)
		if got := sink.types(); len(got) != 0 {
			t.Fatalf("a 25 s blip alerted: %v", got)
		}
		start := time.Now()
		for range 12 { // a minute
			check(down)
		}
		check(nil)
		check(nil)
		got := sink.types()
		if !slices.Equal(got, []linkwatch.AlertType{linkwatch.AlertStorageUnreachable, linkwatch.AlertStorageReachable}) {
			t.Fatalf("one outage sent %v, want one unreachable and one reachable", got)
		}
		un, re := sink.events()[0], sink.events()[1]
		if !un.Since.Equal(start) || un.Down() != 30*time.Second || un.Error != down.Error() || un.Replica != replica || un.Database != "postgres db.internal:5432" {
			t.Errorf("unreachable = %+v, want since the first failure, declared 30 s on, with the error", un)
		}
		if !re.Since.Equal(start) || re.Down() != time.Minute || re.EventID == un.EventID || !strings.Contains(re.EventID, replica.ID) {
			t.Errorf("reachable = %+v, want the outage's start and its minute, an id of its own naming the replica", re)
		}
		// The next outage is news again, with ids of its own.
		for range 8 {
			check(down)
		}
		check(nil)
		if got := sink.events(); len(got) != 4 || got[2].EventID == un.EventID {
			t.Errorf("a second outage: %v in all, want 4 events with new ids", sink.types())
		}
	})
}

// A receiver that fails gets the alert again with backoff, the same id,
// and the events in order; one that refuses it for good (a 4xx) does not
// hold back the next; receivers' filters apply.
func TestStorageAlertsRetriedInOrderAndFiltered(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		flaky := &storageSink{name: "slack", fails: []error{errors.New("connection reset"), &alerting.SendError{Retry: true, HTTPStatus: 503, Err: errors.New("503")}}}
		refusing := &storageSink{name: "webhook:strict", fails: []error{&alerting.SendError{HTTPStatus: 400, Err: errors.New("400")}}}
		team := filteredSink{&storageSink{name: "webhook:team", filter: &linkwatch.Filter{Pages: []string{"acme"}}}}
		endOnly := filteredSink{&storageSink{name: "webhook:calm", filter: &linkwatch.Filter{Events: []linkwatch.AlertType{linkwatch.AlertStorageReachable}}}}
		a := alerting.NewStorageAlerts(alerting.StorageAlertOptions{After: time.Second, Replica: replica, Database: "sqlite /data/linkwatch.db",
			Senders: []alerting.StorageSender{flaky, refusing, team, endOnly}})
		defer runAlerts(a)()
		ctx := context.Background()
		a.Observe(ctx, errors.New("disk full"))
		time.Sleep(time.Second) // the bubble's clock
		a.Observe(ctx, errors.New("disk full"))
		a.Observe(ctx, nil)
		time.Sleep(time.Hour) // the backoff: 5 s, 30 s
		synctest.Wait()
		if got := flaky.types(); !slices.Equal(got, []linkwatch.AlertType{linkwatch.AlertStorageUnreachable, linkwatch.AlertStorageReachable}) || flaky.attempts() != 4 {
			t.Errorf("the flaky receiver got %v in %d tries, want both in order after 2 failures", got, flaky.attempts())
		}
		if got := refusing.types(); !slices.Equal(got, []linkwatch.AlertType{linkwatch.AlertStorageReachable}) {
			t.Errorf("the refusing receiver got %v, want the next event after the refused one", got)
		}
		if got := team.types(); len(got) != 0 {
			t.Errorf("a receiver scoped to a page got %v", got)
		}
		if got := endOnly.types(); !slices.Equal(got, []linkwatch.AlertType{linkwatch.AlertStorageReachable}) {
			t.Errorf("a receiver of storage.reachable only got %v", got)
		}
	})
}

func storageEvent(t linkwatch.AlertType) alerting.StorageEvent {
	since := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	e := alerting.StorageEvent{Type: t, EventID: "msg_storage_linkwatch-0-abcd1234_1795341600000_unreachable", Replica: replica,
		Database: "postgres db.internal:5432", Since: since, At: since.Add(30 * time.Second),
		Error: "the database does not answer: postgres: connect to db.internal:5432: connection refused"}
	if t == linkwatch.AlertStorageReachable {
		e.EventID, e.At, e.Error = strings.Replace(e.EventID, "unreachable", "reachable", 1), since.Add(2*time.Minute), ""
	}
	return e
}

// The storage events a webhook sends are signed like every delivery,
// their webhook-id the event's, and match the schema.
func TestStorageWebhookIsSignedAndMatchesTheSchema(t *testing.T) {
	t.Parallel()
	sch := webhookSchema(t)
	rc, srv := newReceiver(t)
	wh, err := alerting.NewWebhook("ops", srv.URL+"/hook", testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range linkwatch.StorageAlertTypes {
		if err := wh.SendStorage(context.Background(), storageEvent(typ)); err != nil {
			t.Fatal(err)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.raw) != 2 {
		t.Fatalf("%d bodies", len(rc.raw))
	}
	for i, b := range rc.raw {
		if err := validate(t, sch, b); err != nil {
			t.Errorf("body %d does not match webhook.schema.json: %v\n%s", i, err, b)
		}
		var body alerting.StorageBody
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		want := storageEvent(linkwatch.StorageAlertTypes[i])
		if rc.ids[i] != want.EventID || body.Data.EventID != want.EventID || body.Type != want.Type || body.Data.Replica.ID != replica.ID ||
			body.Data.DownMS != float64(want.Down().Milliseconds()) || !body.Timestamp.Equal(want.At) {
			t.Errorf("body %d = %s, webhook-id %q; want %+v", i, b, rc.ids[i], want)
		}
	}
	for name, body := range map[string]string{
		"without replica":  `{"type":"storage.unreachable","timestamp":"2026-11-22T12:00:00Z","data":{"event_id":"e","database":"d","since":"2026-11-22T12:00:00Z","down_ms":1}}`,
		"with an incident": `{"type":"storage.reachable","timestamp":"2026-11-22T12:00:00Z","data":{"event_id":"e","replica":{"id":"r"},"database":"d","since":"2026-11-22T12:00:00Z","down_ms":1,"incident":{}}}`,
	} {
		if err := validate(t, sch, []byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Slack gets a message of its own (no thread: their references are in
// the database), with the replica named and remote text escaped.
func TestSlackStorageMessage(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSlack(t)
	db := sqlitetest.MustOpen(t)
	bot, err := alerting.NewSlack(alerting.SlackOptions{BotToken: slackToken, Channel: "#ops", APIURL: srv.URL + "/", Threads: db})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: srv.URL + "/webhook"})
	if err != nil {
		t.Fatal(err)
	}
	e := storageEvent(linkwatch.AlertStorageUnreachable)
	e.Error = "<!channel> disk full"
	for _, s := range []*alerting.Slack{bot, hook} {
		if err := s.SendStorage(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := bot.SendStorage(context.Background(), storageEvent(linkwatch.AlertStorageReachable)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 3 || f.calls[0].method != "chat.postMessage" || f.calls[0].channel != "#ops" || f.calls[0].ts != "" || f.calls[1].method != "webhook" {
		t.Fatalf("calls %+v, want a message to #ops, unthreaded, and one by the webhook", f.calls)
	}
	for _, c := range f.calls[:2] {
		if !strings.Contains(c.text, "Database unreachable from linkwatch-0-abcd1234 (eu-west)") || !strings.Contains(c.text, "postgres db.internal:5432") ||
			strings.Contains(c.text, "<!channel>") || strings.Contains(c.blocks, "<!channel>") {
			t.Errorf("message %q (blocks %s): want the replica and database named, remote text escaped", c.text, c.blocks)
		}
	}
	if c := f.calls[2]; !strings.Contains(c.text, "reachable again") || !strings.Contains(c.text, "after 2 min") {
		t.Errorf("the recovery says %q", c.text)
	}
}

// Every replica's events of one database are one Sentry issue: one
// fingerprint, the database's; the recovery is info in it; a retry is
// the same event id.
func TestSentryStorageEventsGroupByDatabase(t *testing.T) {
	t.Parallel()
	f := newFakeSentry(t)
	s, err := alerting.NewSentry(alerting.SentryOptions{DSN: f.dsn()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other := storageEvent(linkwatch.AlertStorageUnreachable)
	other.Replica.ID, other.EventID = "linkwatch-1-efgh5678", "msg_storage_linkwatch-1-efgh5678_1795341600000_unreachable"
	events := []alerting.StorageEvent{storageEvent(linkwatch.AlertStorageUnreachable), other, storageEvent(linkwatch.AlertStorageReachable), storageEvent(linkwatch.AlertStorageUnreachable)}
	var ids []string
	for _, e := range events {
		if err := s.SendStorage(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		ev := f.next(t).Items[0].Payload
		fp, _ := json.Marshal(ev["fingerprint"])
		if string(fp) != `["linkwatch-storage","postgres db.internal:5432"]` {
			t.Errorf("fingerprint %s, want the database's", fp)
		}
		level := map[linkwatch.AlertType]string{linkwatch.AlertStorageUnreachable: "error", linkwatch.AlertStorageReachable: "info"}[e.Type]
		if ev["level"] != level || !strings.Contains(ev["message"].(string), e.Replica.ID) {
			t.Errorf("event %v: want level %s and the replica named", ev, level)
		}
		ids = append(ids, ev["event_id"].(string))
	}
	if ids[0] == ids[1] || ids[0] == ids[2] || ids[0] != ids[3] {
		t.Errorf("event ids %v: want one per replica and type, the same on a retry", ids)
	}
}
