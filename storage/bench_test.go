package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// benchDB is a database of each backend, whose clock the benchmark sets.
type benchDB interface {
	SaveResults(ctx context.Context, results []linkwatch.Result) error
	RollUp(ctx context.Context) error
}

// backends opens a fresh database of each backend for b, with now as its
// clock.
var backends = []struct {
	name string
	open func(b *testing.B, now func() time.Time) benchDB
}{
	{"sqlite", func(b *testing.B, now func() time.Time) benchDB {
		db := sqlitetest.MustOpen(b)
		db.SetClock(now)
		return db
	}},
	{"postgres", func(b *testing.B, now func() time.Time) benchDB {
		db := pgtest.MustOpen(b)
		db.SetClock(now)
		return db
	}},
}

var benchT0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// round is one probe round of n targets at t: a tenth of them change
// status each round (kept raw, with detail when down), the rest are
// counted into their minutes.
func round(n, i int, t time.Time) []linkwatch.Result {
	out := make([]linkwatch.Result, n)
	for j := range out {
		url := fmt.Sprintf("https://t%d.test/", j)
		r := linkwatch.Result{TargetID: url, Kind: linkwatch.TargetDestination, URL: url, Start: t,
			Latency: time.Duration(10+j%200) * time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200}
		if (i+j)%20 < 2 {
			r.Status, r.StatusCode, r.Cause, r.Summary = linkwatch.StatusDown, 503, linkwatch.CauseHTTP5xx, "503 Service Unavailable at "+url
			r.Hops = []linkwatch.Hop{{URL: url, StatusCode: 503}}
		}
		out[j] = r
	}
	return out
}

// BenchmarkSaveResults writes batches of 500 results, one probe round of
// 500 targets every 10 s: the result writer's batch.
func BenchmarkSaveResults(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b, time.Now)
			ctx := context.Background()
			if err := db.SaveResults(ctx, round(500, 0, benchT0)); err != nil { // the targets' rows
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := db.SaveResults(ctx, round(500, i+1, benchT0.Add(time.Duration(i+1)*10*time.Second))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRollUp rolls an hour of minute rollups of 100 targets up into
// hour rollups: the periodic job's work once an hour.
func BenchmarkRollUp(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			now := benchT0
			db := be.open(b, func() time.Time { return now })
			ctx := context.Background()
			for i := range b.N {
				b.StopTimer()
				hour := benchT0.Add(time.Duration(i) * time.Hour)
				for m := range 60 {
					if err := db.SaveResults(ctx, round(100, m, hour.Add(time.Duration(m)*time.Minute))); err != nil {
						b.Fatal(err)
					}
				}
				now = hour.Add(time.Hour + 3*time.Minute)
				b.StartTimer()
				if err := db.RollUp(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
