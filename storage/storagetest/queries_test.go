package storagetest_test

// What storage.Store asks beyond the incident and outbox contract: clicks
// by hour and by day, latency histograms, flap history, the dispatcher's
// queue and channel states, the same on every backend.

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/storage"
)

func clickCounts(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	day := time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)
	a, b := hub.LinkKey{Page: "ada", Link: "go"}, hub.LinkKey{Page: "ada", Link: "blog"}
	steps := []struct {
		at, hour time.Time // the database's clock, and the hour the clicks happened in
		batch    map[hub.LinkKey]hub.ClickCount
		want     map[hub.LinkKey]int64
	}{
		{day, day.Truncate(time.Hour), map[hub.LinkKey]hub.ClickCount{a: {Clicks: 3}}, map[hub.LinkKey]int64{a: 3}},
		// Flushed after midnight, these clicks of 23:00 are 23:00's.
		{day.Add(2 * time.Minute), day.Truncate(time.Hour), map[hub.LinkKey]hub.ClickCount{a: {Clicks: 2, Fallback: 2}, b: {Clicks: 1}}, map[hub.LinkKey]int64{a: 5, b: 1}},
		{day.Add(2 * time.Minute), day.Add(time.Minute), map[hub.LinkKey]hub.ClickCount{a: {Clicks: 1}}, map[hub.LinkKey]int64{a: 6, b: 1}}, // next day
	}
	for i, s := range steps {
		clk.Set(s.at)
		if err := db.AddClicks(ctx, s.hour, s.batch); err != nil {
			t.Fatalf("step %d: AddClicks: %v", i, err)
		}
		got, err := db.ClickTotals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d: totals = %v, want %v", i, got, s.want)
		}
	}
	hour := func(h int) time.Time { return time.Date(2026, 11, 22, h, 0, 0, 0, time.UTC) }
	q := hub.ClickQuery{From: hour(0), To: hour(0).AddDate(0, 0, 2)}
	byHour, err := db.ClickCounts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	wantHour := []hub.ClickBucket{
		{Link: b, Start: hour(23), ClickCount: hub.ClickCount{Clicks: 1}},
		{Link: a, Start: hour(23), ClickCount: hub.ClickCount{Clicks: 5, Fallback: 2}},
		{Link: a, Start: hour(24), ClickCount: hub.ClickCount{Clicks: 1}},
	}
	if !reflect.DeepEqual(byHour, wantHour) {
		t.Errorf("by hour = %+v\nwant %+v", byHour, wantHour)
	}
	q.ByDay, q.Link, q.Page = true, "go", "ada"
	byDay, err := db.ClickCounts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	wantDay := []hub.ClickBucket{
		{Link: a, Start: hour(0), ClickCount: hub.ClickCount{Clicks: 5, Fallback: 2}},
		{Link: a, Start: hour(24), ClickCount: hub.ClickCount{Clicks: 1}},
	}
	if !reflect.DeepEqual(byDay, wantDay) {
		t.Errorf("by day = %+v\nwant %+v", byDay, wantDay)
	}
	// To is exclusive, From inclusive.
	q.From, q.To, q.ByDay = hour(23), hour(24), false
	if got, _ := db.ClickCounts(ctx, q); len(got) != 1 || got[0].Start != hour(23) {
		t.Errorf("[23h, 24h) = %+v, want the 23h bucket only", got)
	}
	// Bounds inside an hour count from its start.
	q.From, q.To = hour(23).Add(10*time.Minute), hour(24).Add(5*time.Minute)
	if got, _ := db.ClickCounts(ctx, q); len(got) != 1 || got[0].Start != hour(23) {
		t.Errorf("[23:10, 00:05) = %+v, want the 23h bucket only", got)
	}
}

func latencyHistograms(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 22, h, m, 0, 0, time.UTC) }
	var batch []linkwatch.Result
	for m := 0; m < 150; m++ { // 10:00 to 12:29, one a minute
		lat := 20 * time.Millisecond
		if m >= 120 {
			lat = 400 * time.Millisecond
		}
		for _, u := range []string{"https://a.example/", "https://b.example/"} {
			batch = append(batch, linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: at(10, 0).Add(time.Duration(m) * time.Minute), Latency: lat, Status: linkwatch.StatusUp})
		}
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	clk.Set(at(12, 30))
	if err := db.RollUp(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.LatencyHistograms(ctx, []string{"https://a.example/", "https://missing.example/"}, at(10, 15), at(12, 30), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := got["https://a.example/"]
	if len(got) != 1 || !ok {
		t.Fatalf("histograms for %v, want only the target asked that has data", got)
	}
	if a.Count != 150 || a.LatMax != 400*time.Millisecond {
		t.Errorf("count %d, max %s; want 150 checks (two rolled-up hours and 30 minutes), max 400ms", a.Count, a.LatMax)
	}
	if p50, p95 := a.Quantile(0.5), a.Quantile(0.95); p50 != 25*time.Millisecond || p95 != 400*time.Millisecond {
		t.Errorf("p50 %s, p95 %s; want 25ms (its bucket's bound) and 400ms (the maximum caps the 500ms bound)", p50, p95)
	}
	got, err = db.LatencyHistograms(ctx, []string{"https://a.example/"}, at(11, 0), at(12, 30), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := got["https://a.example/"].Count; n != 90 {
		t.Errorf("from 11:00: %d checks, want 90", n)
	}
}

// latencySeries: a chart's buckets, summed from hour rollups where the
// hour is rolled up and from minutes where it is not, the same before and
// after the roll-up, never counted twice.
func latencySeries(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 22, h, m, 0, 0, time.UTC) }
	var batch []linkwatch.Result
	for m := 0; m < 150; m++ { // 10:00 to 12:29, one a minute; 400ms from 12:00
		lat := 20 * time.Millisecond
		if m >= 120 {
			lat = 400 * time.Millisecond
		}
		batch = append(batch, linkwatch.Result{TargetID: "https://a.example/", Kind: linkwatch.TargetDestination, URL: "https://a.example/",
			Start: at(10, 0).Add(time.Duration(m) * time.Minute), Latency: lat, Status: linkwatch.StatusUp})
	}
	// b has checks in the 11:00 hour only: its other buckets are absent.
	batch = append(batch, linkwatch.Result{TargetID: "https://b.example/", Kind: linkwatch.TargetDestination, URL: "https://b.example/",
		Start: at(11, 30), Latency: 3 * time.Second, Status: linkwatch.StatusUp})
	must(t, db.SaveResults(ctx, batch))
	type bucket struct {
		start time.Time
		count int64
		p50   time.Duration
		p95   time.Duration
	}
	read := func(from, to time.Time, step time.Duration) map[string][]bucket {
		t.Helper()
		got, err := db.LatencySeries(ctx, []string{"https://a.example/", "https://b.example/", "https://missing.example/"}, from, to, step, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]bucket{}
		for k, rs := range got {
			for _, r := range rs {
				out[k] = append(out[k], bucket{r.Start, r.Count, r.Quantile(0.5), r.Quantile(0.95)})
			}
		}
		return out
	}
	hourly := map[string][]bucket{
		"https://a.example/": {{at(10, 0), 60, 20 * time.Millisecond, 20 * time.Millisecond}, {at(11, 0), 60, 20 * time.Millisecond, 20 * time.Millisecond},
			{at(12, 0), 30, 400 * time.Millisecond, 400 * time.Millisecond}},
		"https://b.example/": {{at(11, 0), 1, 3 * time.Second, 3 * time.Second}},
	}
	// A bucket's quantiles are capped by its own maximum (20ms, not the
	// 25ms bound); before any roll-up every bucket comes from minutes.
	clk.Set(at(12, 30))
	if got := read(at(10, 0), at(12, 30), time.Hour); !reflect.DeepEqual(got, hourly) {
		t.Errorf("hourly from minutes:\n got %+v\nwant %+v", got, hourly)
	}
	must(t, db.RollUp(ctx)) // rolls up 10:00 and 11:00; 12:00 stays in minutes
	if got := read(at(10, 0), at(12, 30), time.Hour); !reflect.DeepEqual(got, hourly) {
		t.Errorf("hourly from hours and minutes:\n got %+v\nwant %+v", got, hourly)
	}
	clk.Set(at(13, 5))
	must(t, db.RollUp(ctx)) // 12:00 too: still counted once
	if got := read(at(10, 0), at(12, 30), time.Hour); !reflect.DeepEqual(got, hourly) {
		t.Errorf("hourly after the 12:00 roll-up:\n got %+v\nwant %+v", got, hourly)
	}
	twoHourly := map[string][]bucket{
		"https://a.example/": {{at(10, 0), 120, 20 * time.Millisecond, 20 * time.Millisecond}, {at(12, 0), 30, 400 * time.Millisecond, 400 * time.Millisecond}},
		"https://b.example/": {{at(10, 0), 1, 3 * time.Second, 3 * time.Second}},
	}
	if got := read(at(10, 0), at(13, 0), 2*time.Hour); !reflect.DeepEqual(got, twoHourly) {
		t.Errorf("two-hourly:\n got %+v\nwant %+v", got, twoHourly)
	}
	// [11:00, 12:00) holds the 11:00 hour only.
	if got := read(at(11, 0), at(12, 0), time.Hour); len(got["https://a.example/"]) != 1 || got["https://a.example/"][0].count != 60 {
		t.Errorf("[11:00, 12:00) = %+v, want the 11:00 hour only", got)
	}
	// Steps an hour rollup cannot be cut into, or a from inside an hour,
	// are refused by name.
	for _, bad := range []struct {
		from time.Time
		step time.Duration
		want string
	}{{at(10, 0), 30 * time.Minute, "step"}, {at(10, 15), time.Hour, "from"}, {at(10, 0), 0, "step"}} {
		if _, err := db.LatencySeries(ctx, []string{"https://a.example/"}, bad.from, at(12, 0), bad.step, nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("from %s step %s: err = %v, want one naming %s", bad.from.Format("15:04"), bad.step, err, bad.want)
		}
	}
}

func recoveries(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{t0, t0.Add(20 * time.Minute), t0.Add(90 * time.Minute)} {
		if err := db.RecordRecovery(ctx, "dest:a", at, at.Add(-time.Hour)); err != nil {
			t.Fatalf("recovery %d: %v", i, err)
		}
	}
	got, err := db.Recoveries(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	// The first two were forgotten by the third (older than its hour).
	if want := []time.Time{t0.Add(90 * time.Minute)}; !reflect.DeepEqual(got["dest:a"], want) {
		t.Errorf("recoveries = %v, want %v", got, want)
	}
}

func deliveryQueue(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clk.Set(t0)
	inc := linkwatch.Incident{Key: "dest:q", Kind: linkwatch.KindDestination, Title: "q", Status: linkwatch.StatusInvestigating,
		Impact: linkwatch.ImpactMajor, StartedAt: t0, UpdatedAt: t0}
	if _, err := db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err != nil {
		t.Fatal(err)
	}
	if err := db.FanOut(ctx, []string{"slack", "webhook:ops"}); err != nil {
		t.Fatal(err)
	}
	pending, err := db.PendingDeliveries(ctx, "slack", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Alert.Type != linkwatch.AlertOpened || pending[0].Attempts != 0 || !pending[0].FirstAt.IsZero() {
		t.Fatalf("pending = %+v", pending)
	}
	d := pending[0]
	retryAt := t0.Add(time.Minute)
	if err := db.MarkDelivery(ctx, d.ID, linkwatch.Outcome{Status: "pending", NextAt: retryAt, HTTPStatus: 503, Error: "503 from receiver"}); err != nil {
		t.Fatal(err)
	}
	pending, _ = db.PendingDeliveries(ctx, "slack", 0, 10)
	if len(pending) != 1 || pending[0].Attempts != 1 || !pending[0].FirstAt.Equal(t0) || !pending[0].NextAt.Equal(retryAt) {
		t.Fatalf("after a failed attempt: %+v", pending)
	}
	if err := db.MarkDelivery(ctx, d.ID, linkwatch.Outcome{Status: "sent", HTTPStatus: 200}); err != nil {
		t.Fatal(err)
	}
	if pending, _ = db.PendingDeliveries(ctx, "slack", 0, 10); len(pending) != 0 {
		t.Errorf("a sent delivery is still pending: %+v", pending)
	}
	if err := db.DisableChannel(ctx, "webhook:ops", "410 Gone"); err != nil {
		t.Fatal(err)
	}
	states, err := db.ChannelStates(ctx, []string{"slack", "webhook:ops", "sentry"})
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 3 || !states[0].Enabled || states[0].Deliveries["sent"] != 1 ||
		states[1].Enabled || states[1].Reason != "410 Gone" || states[1].Deliveries["disabled"] != 1 ||
		!states[2].Enabled || len(states[2].Deliveries) != 0 {
		t.Errorf("channel states = %+v", states)
	}
}

// The backlog counts the deliveries not yet sent, retries included, and
// dates its oldest by its alert: the age a metric reports.
func outboxBacklog(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	backlog := func(want linkwatch.Backlog) {
		t.Helper()
		b, err := db.OutboxBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Pending != want.Pending || !b.Oldest.Equal(want.Oldest) {
			t.Errorf("backlog = %d, oldest %s; want %d, oldest %s", b.Pending, b.Oldest, want.Pending, want.Oldest)
		}
	}
	backlog(linkwatch.Backlog{})
	for i, key := range []string{"dest:a", "dest:b"} {
		at := t0.Add(time.Duration(i) * time.Minute)
		clk.Set(at)
		inc := linkwatch.Incident{Key: key, Kind: linkwatch.KindDestination, Title: key, Status: linkwatch.StatusInvestigating,
			Impact: linkwatch.ImpactMajor, StartedAt: at, UpdatedAt: at}
		if _, err := db.Record(ctx, incidents.Change{Incident: inc, Alert: &linkwatch.Alert{Type: linkwatch.AlertOpened}}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0.Add(5 * time.Minute))
	must(t, db.FanOut(ctx, []string{"slack"}))
	backlog(linkwatch.Backlog{Pending: 2, Oldest: t0})
	pending, err := db.PendingDeliveries(ctx, "slack", 0, 10)
	must(t, err)
	if len(pending) != 2 {
		t.Fatalf("pending = %+v", pending)
	}
	// A failed attempt keeps it in the backlog, with its alert's age.
	must(t, db.MarkDelivery(ctx, pending[0].ID, linkwatch.Outcome{Status: linkwatch.DeliveryPending, NextAt: clk.Now().Add(time.Minute), HTTPStatus: 503}))
	backlog(linkwatch.Backlog{Pending: 2, Oldest: t0})
	must(t, db.MarkDelivery(ctx, pending[0].ID, linkwatch.Outcome{Status: linkwatch.DeliverySent, HTTPStatus: 200}))
	backlog(linkwatch.Backlog{Pending: 1, Oldest: t0.Add(time.Minute)})
	must(t, db.MarkDelivery(ctx, pending[1].ID, linkwatch.Outcome{Status: linkwatch.DeliveryDead, HTTPStatus: 400}))
	backlog(linkwatch.Backlog{})
}
