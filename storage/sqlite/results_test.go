package sqlite

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

func result(id string, start time.Time, latency time.Duration, status linkwatch.Status) linkwatch.Result {
	r := linkwatch.Result{TargetID: id, Kind: linkwatch.TargetDestination, URL: id, Start: start, Latency: latency, Status: status, StatusCode: 200}
	if status != linkwatch.StatusUp {
		r.StatusCode, r.Cause, r.Summary = 503, linkwatch.CauseHTTP5xx, "503 Service Unavailable at "+id
		r.Hops = []linkwatch.Hop{{URL: id, StatusCode: 503, Phases: linkwatch.Phases{Connect: time.Millisecond}}}
	}
	return r
}

func TestSaveResultsAndRecent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	batch := []linkwatch.Result{
		result("https://a.test/", t0, 40*time.Millisecond, linkwatch.StatusUp),
		result("https://b.test/", t0, 70*time.Millisecond, linkwatch.StatusDown),
		result("https://a.test/", t0.Add(10*time.Second), 45*time.Millisecond, linkwatch.StatusUp),
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	all, err := db.RecentChecks(ctx, []string{"https://a.test/", "https://b.test/"}, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first; a success keeps no detail.
	got := all["https://a.test/"]
	if len(got) != 2 || !got[0].Start.Equal(t0) || got[0].Latency != 40*time.Millisecond || got[0].Hops != nil || got[1].Latency != 45*time.Millisecond {
		t.Errorf("a.test results = %+v", got)
	}
	got = all["https://b.test/"]
	if len(got) != 1 || got[0].Cause != linkwatch.CauseHTTP5xx || len(got[0].Hops) != 1 {
		t.Fatalf("b.test results = %+v", got)
	}
	if got[0].Hops[0].Phases.Connect != time.Millisecond {
		t.Errorf("failure detail lost its phases: %+v", got[0])
	}
}

func TestSaveResultsFailureWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.SaveResults(cctx, []linkwatch.Result{result("https://new.test/", time.Now(), time.Millisecond, linkwatch.StatusUp)}); err == nil {
		t.Fatal("SaveResults with a cancelled context succeeded")
	}
	// The failed batch must not leave a cached id for a target row that was rolled back.
	if err := db.SaveResults(ctx, []linkwatch.Result{result("https://new.test/", time.Now(), time.Millisecond, linkwatch.StatusUp)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.RecentChecks(ctx, []string{"https://new.test/"}, time.Time{}, 10); len(got["https://new.test/"]) != 1 {
		t.Errorf("got %d results, want 1", len(got))
	}
}

func TestRollUpAndQuantile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var batch []linkwatch.Result
	// Two hours of checks every 10 s; minute 5 of each hour has one failure.
	for i := 0; i < 2*360; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		status, lat := linkwatch.StatusUp, 40*time.Millisecond
		if at.Minute() == 5 && at.Second() == 0 {
			status, lat = linkwatch.StatusDown, 3*time.Second
		}
		batch = append(batch, result("https://a.test/", at, lat, status))
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	db.SetClock(func() time.Time { return t0.Add(2*time.Hour + 3*time.Minute) })
	for range 2 { // idempotent: a second run changes nothing
		if err := db.RollUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mins, err := db.Rollups(ctx, "https://a.test/", time.Minute, t0, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 120 {
		t.Fatalf("%d minute rollups, want 120", len(mins))
	}
	// The failure counts as a check, not as a response time.
	m5 := mins[5]
	if m5.Count != 6 || m5.Failures != 1 || m5.LatCount != 5 || m5.LatMax != 40*time.Millisecond || m5.LatMin != 40*time.Millisecond {
		t.Errorf("minute 5 rollup = %+v", m5)
	}
	hours, err := db.Rollups(ctx, "https://a.test/", time.Hour, t0, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 2 || hours[0].Count != 360 || hours[0].Failures != 1 || hours[0].LatCount != 359 || hours[1].Count != 360 {
		t.Fatalf("hour rollups = %+v", hours)
	}
	// Every response took 40 ms: each quantile is capped by that maximum,
	// and the failure's 3 s (the time it took to fail) is none of them.
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 40 * time.Millisecond},
		{0.99, 40 * time.Millisecond},
		{1, 40 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := hours[0].Quantile(tt.q); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.q*100, got, tt.want)
		}
	}
	if _, err := db.Rollups(ctx, "https://a.test/", time.Second, t0, t0); err == nil {
		t.Error("Rollups accepted a one-second period")
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var batch []linkwatch.Result
	for h := 71; h >= 0; h-- { // oldest first, as results arrive
		batch = append(batch, result("https://a.test/", now.Add(-time.Duration(h)*time.Hour-time.Minute*10), time.Millisecond, linkwatch.StatusUp))
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	db.SetClock(func() time.Time { return now })
	if err := db.RollUp(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := db.Prune(ctx, storage.Retention{Raw: 48 * time.Hour, Minute: 24 * time.Hour, Hour: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := db.RecentChecks(ctx, []string{"https://a.test/"}, time.Time{}, 1000)
	if len(raw["https://a.test/"]) != 48 {
		t.Errorf("%d raw results kept, want 48", len(raw))
	}
	mins, _ := db.Rollups(ctx, "https://a.test/", time.Minute, now.Add(-100*time.Hour), now)
	hours, _ := db.Rollups(ctx, "https://a.test/", time.Hour, now.Add(-100*time.Hour), now)
	// The current hour (11:00-12:00) is not over, so it has no hour
	// rollup yet. Rollups go a whole day at a time: yesterday's minutes
	// (its 12:00 within 24 hours) are kept until today is over.
	if len(mins) != 36 || len(hours) != 71 {
		t.Errorf("kept %d minute and %d hour rollups, want 36 and 71", len(mins), len(hours))
	}
	if n != 24+36 {
		t.Errorf("Prune deleted %d rows, want %d", n, 24+36)
	}
}

func TestResultWriterBatchesAndDrains(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	var mu sync.Mutex
	var errs []error
	w := storage.NewResultWriter(db, 50, time.Hour, func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t0 := time.Now()
	for i := range 120 {
		w.Add(result("https://a.test/", t0.Add(time.Duration(i)*time.Second), time.Millisecond, linkwatch.StatusUp))
	}
	cancel()
	<-done
	mins, err := db.Rollups(context.Background(), "https://a.test/", time.Minute, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, m := range mins {
		n += m.Count
	}
	if n != 120 {
		t.Errorf("%d results counted, want all 120 (queued ones flushed at shutdown)", n)
	}
	if len(errs) != 0 {
		t.Errorf("write errors: %v", errors.Join(errs...))
	}
}

func TestSeriesSharesOneRollup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var batch []linkwatch.Result
	for _, id := range []string{"self:/ada/go", "self:/ada/blog"} {
		for i := range 6 {
			r := result(id, t0.Add(time.Duration(i)*10*time.Second), time.Millisecond, linkwatch.StatusUp)
			r.Kind, r.Series = linkwatch.TargetSelfCheck, "self:/ada"
			batch = append(batch, r)
		}
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	series, _ := db.Rollups(ctx, "self:/ada", time.Minute, t0, t0.Add(time.Hour))
	own, _ := db.Rollups(ctx, "self:/ada/go", time.Minute, t0, t0.Add(time.Hour))
	if len(series) != 1 || series[0].Count != 12 || len(own) != 0 {
		t.Errorf("series rollups %+v, own rollups %+v; want one minute of 12 checks in the series", series, own)
	}
	if raw, _ := db.RecentChecks(ctx, []string{"self:/ada/go"}, time.Time{}, 100); len(raw["self:/ada/go"]) != 6 {
		t.Errorf("raw results of a target in a series: %d, want its own 6", len(raw))
	}
}
