package sqlite

import (
	"context"
	"testing"
	"time"

	"linkwatch"
)

func TestDailyStatsFromRollups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var batch []linkwatch.Result
	for i := 0; i < 3*24*60; i++ { // one check a minute for three days
		at := day.Add(time.Duration(i) * time.Minute)
		st := linkwatch.StatusUp
		if at.Day() == 21 && at.Hour() == 3 && at.Minute() < 10 {
			st = linkwatch.StatusDown // 10 minutes down on the 21st
		}
		batch = append(batch, result("https://a.test/", at, time.Millisecond, st))
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	db.SetClock(func() time.Time { return day.Add(72*time.Hour + 3*time.Minute) })
	if err := db.RollUp(ctx); err != nil {
		t.Fatal(err)
	}
	stats, err := db.DailyStats(ctx, day, db.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 3 {
		t.Fatalf("%d days, want 3: %+v", len(stats), stats)
	}
	for i, s := range stats {
		wantFail := int64(0)
		if i == 1 {
			wantFail = 10
		}
		if !s.Day.Equal(day.AddDate(0, 0, i)) || s.Count != 1440 || s.Failures != wantFail {
			t.Errorf("day %d: %+v, want 1440 checks and %d failures", i, s, wantFail)
		}
	}
}
