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
	UsedBytes(ctx context.Context) (int64, error)
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

// BenchmarkGrowth writes the same rows to each backend: the results of
// 1,000 destinations checked every 10 s for two hours (5 % of them
// failing, 503 with their detail, the rest answering in 40 to 240 ms), in
// the result writer's batches of 500, rolled up every hour, and reports
// what the database grew by, per destination and day (extrapolated from
// the two hours): data pages in use on SQLite, pg_total_relation_size on
// PostgreSQL, as linkbench system measures them.
//
//	go test ./storage -run '^$' -bench Growth -benchtime 1x
func BenchmarkGrowth(b *testing.B) {
	const (
		targets = 1000
		span    = 2 * time.Hour
	)
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for b.Loop() {
				now := benchT0
				db := be.open(b, func() time.Time { return now })
				ctx := context.Background()
				batch := make([]linkwatch.Result, 0, 500)
				write := func() {
					if err := db.SaveResults(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
				check := func(j int, at time.Time) linkwatch.Result {
					url := fmt.Sprintf("https://d%d.test/p", j)
					r := linkwatch.Result{TargetID: url, Kind: linkwatch.TargetDestination, URL: url, Start: at,
						Latency: time.Duration(40+(j*7+at.Second())%200) * time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200}
					if j%20 == 0 {
						r.Status, r.StatusCode, r.Cause, r.Summary = linkwatch.StatusDown, 503, linkwatch.CauseHTTP5xx, "503 Service Unavailable at "+url
						r.Hops = []linkwatch.Hop{{URL: url, StatusCode: 503}}
					}
					return r
				}
				for j := range targets { // the first round: the targets' rows
					batch = append(batch, check(j, now))
					if len(batch) == cap(batch) {
						write()
					}
				}
				write()
				before, err := db.UsedBytes(ctx)
				if err != nil {
					b.Fatal(err)
				}
				// Each target at its own offset in the interval, as the
				// scheduler spreads them.
				for t := time.Duration(0); t < span; t += 10 * time.Second {
					for j := range targets {
						batch = append(batch, check(j, benchT0.Add(10*time.Second+t+time.Duration(j)*10*time.Second/targets)))
						if len(batch) == cap(batch) {
							now = batch[len(batch)-1].Start
							write()
						}
					}
					if now.Truncate(time.Hour) != now.Add(-10*time.Second).Truncate(time.Hour) {
						if err := db.RollUp(ctx); err != nil {
							b.Fatal(err)
						}
					}
				}
				write()
				after, err := db.UsedBytes(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(after-before)/targets/span.Hours()*24/1024, "KiB/dest/day")
			}
		})
	}
}
