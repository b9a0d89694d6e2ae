package storagetest

// What storage.Store asks beyond the incident and outbox contract: clicks
// by hour and by day, latency histograms, flap history, the dispatcher's
// queue and channel states, the same on every backend.

import (
	"context"
	"reflect"
	"testing"
	"time"

	"linkwatch/checker"
	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/storage"
)

func clickCounts(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	day := time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)
	a, b := hub.LinkKey{Page: "ada", Link: "go"}, hub.LinkKey{Page: "ada", Link: "blog"}
	steps := []struct {
		at    time.Time
		batch map[hub.LinkKey]hub.ClickCount
		want  map[hub.LinkKey]int64
	}{
		{day, map[hub.LinkKey]hub.ClickCount{a: {Clicks: 3}}, map[hub.LinkKey]int64{a: 3}},
		{day, map[hub.LinkKey]hub.ClickCount{a: {Clicks: 2, Fallback: 2}, b: {Clicks: 1}}, map[hub.LinkKey]int64{a: 5, b: 1}},
		{day.Add(2 * time.Minute), map[hub.LinkKey]hub.ClickCount{a: {Clicks: 1}}, map[hub.LinkKey]int64{a: 6, b: 1}}, // next day
	}
	for i, s := range steps {
		clk.Set(s.at)
		if err := db.AddClicks(ctx, s.batch); err != nil {
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
	var batch []checker.Result
	for m := 0; m < 150; m++ { // 10:00 to 12:29, one a minute
		lat := 20 * time.Millisecond
		if m >= 120 {
			lat = 400 * time.Millisecond
		}
		for _, u := range []string{"https://a.example/", "https://b.example/"} {
			batch = append(batch, checker.Result{TargetID: u, Kind: checker.KindDestination, URL: u, Start: at(10, 0).Add(time.Duration(m) * time.Minute), Latency: lat, Status: checker.StatusUp})
		}
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	clk.Set(at(12, 30))
	if err := db.RollUp(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.LatencyHistograms(ctx, []string{"https://a.example/", "https://missing.example/"}, at(10, 15), at(12, 30))
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
	got, err = db.LatencyHistograms(ctx, []string{"https://a.example/"}, at(11, 0), at(12, 30))
	if err != nil {
		t.Fatal(err)
	}
	if n := got["https://a.example/"].Count; n != 90 {
		t.Errorf("from 11:00: %d checks, want 90", n)
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
	inc := incidents.Incident{Key: "dest:q", Kind: incidents.KindDestination, Title: "q", Status: incidents.StatusInvestigating,
		Impact: incidents.ImpactMajor, StartedAt: t0, UpdatedAt: t0}
	if _, err := db.Record(ctx, incidents.Change{Incident: inc, Alert: &incidents.Alert{Type: incidents.AlertOpened}}); err != nil {
		t.Fatal(err)
	}
	if err := db.FanOut(ctx, []string{"slack", "webhook:ops"}); err != nil {
		t.Fatal(err)
	}
	pending, err := db.PendingDeliveries(ctx, "slack", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Alert.Type != incidents.AlertOpened || pending[0].Attempts != 0 || !pending[0].FirstAt.IsZero() {
		t.Fatalf("pending = %+v", pending)
	}
	d := pending[0]
	retryAt := t0.Add(time.Minute)
	if err := db.MarkDelivery(ctx, d.ID, incidents.Outcome{Status: "pending", NextAt: retryAt, HTTPStatus: 503, Error: "503 from receiver"}); err != nil {
		t.Fatal(err)
	}
	pending, _ = db.PendingDeliveries(ctx, "slack", 0, 10)
	if len(pending) != 1 || pending[0].Attempts != 1 || !pending[0].FirstAt.Equal(t0) || !pending[0].NextAt.Equal(retryAt) {
		t.Fatalf("after a failed attempt: %+v", pending)
	}
	if err := db.MarkDelivery(ctx, d.ID, incidents.Outcome{Status: "sent", HTTPStatus: 200}); err != nil {
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
