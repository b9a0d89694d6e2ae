package sqlite

import (
	"context"
	"testing"
	"time"

	"linkwatch/checker"
)

// The histograms merge settled hours with the minutes after them, and the
// quantiles read off them are the buckets' bounds, capped by the maximum.
func TestLatencyHistograms(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
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
	db.Now = func() time.Time { return at(12, 30) }
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
