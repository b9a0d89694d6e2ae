package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver of database/sql

	"linkwatch"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite"
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
// 1,000 destinations checked every 10 s (5 % of them failing, 503 with
// their detail, the rest answering in 40 to 240 ms), in the result
// writer's batches of 500, rolled up every minute of the injected clock
// as the periodic job does, and reports what the database grew by, per
// destination and day, between two instants two and four hours in (each
// three minutes past the hour, once the hour before is rolled up): two
// hours of growth, extrapolated to a day. Both instants hold the same
// working set (the open hour's minutes, and on PostgreSQL the pages the
// hours before freed, reused since), so what is measured is what a day
// adds, not a start-up cost: data pages in use on SQLite,
// pg_total_relation_size of every table on PostgreSQL, as linkbench
// system measures them. PostgreSQL is vacuumed as autovacuum would: every
// minute of the injected clock (autovacuum's naptime), each table whose
// dead or newly inserted rows pass autovacuum's default thresholds. The
// clock runs about a hundred times faster than real time, so autovacuum
// itself would come about once an hour of it, at no set point: without
// its stand-in no space a delete or an update freed is reused in time,
// and the figure would depend on when autovacuum happened to run.
//
//	go test ./storage -run '^$' -bench Growth -benchtime 1x -timeout 30m [-v: PostgreSQL's tables]
func BenchmarkGrowth(b *testing.B) {
	const (
		targets = 1000
		warm    = 2 * time.Hour
		span    = 2 * time.Hour
	)
	for _, be := range []struct {
		name string
		open func(b *testing.B, now func() time.Time) grower
	}{
		{"sqlite", func(b *testing.B, now func() time.Time) grower {
			db := sqlitetest.MustOpen(b)
			db.SetClock(now)
			return sqliteGrower{db}
		}},
		{"postgres", openPostgresGrower},
	} {
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
				var before, after int64
				for t := time.Duration(0); after == 0; t += 10 * time.Second {
					// Each target at its own offset in the interval, as the
					// scheduler spreads them.
					for j := range targets {
						batch = append(batch, check(j, benchT0.Add(t+time.Duration(j)*10*time.Second/targets)))
						if len(batch) == cap(batch) {
							was := now
							now = batch[len(batch)-1].Start
							write()
							if now.Truncate(time.Minute) == was.Truncate(time.Minute) {
								continue
							}
							if err := db.RollUp(ctx); err != nil {
								b.Fatal(err)
							}
							if err := db.Vacuum(ctx); err != nil {
								b.Fatal(err)
							}
							if now.Sub(now.Truncate(time.Hour)) < 3*time.Minute || was.Sub(was.Truncate(time.Hour)) >= 3*time.Minute {
								continue
							}
							// Three minutes past an hour: the hour before is
							// rolled up.
							switch now.Truncate(time.Hour).Sub(benchT0) {
							case warm:
								before = db.usedBytes(b, "before")
							case warm + span:
								after = db.usedBytes(b, "after")
							}
						}
					}
				}
				b.ReportMetric(float64(after-before)/targets/span.Hours()*24/1024, "KiB/dest/day")
			}
		})
	}
}

// grower is a database of each backend as BenchmarkGrowth measures it.
type grower interface {
	benchDB
	// Vacuum makes the space freed by deletes and updates reusable where
	// the database's own vacuum would.
	Vacuum(ctx context.Context) error
	// usedBytes is UsedBytes, logging what each table holds where the
	// database tells.
	usedBytes(b *testing.B, when string) int64
}

type sqliteGrower struct{ *sqlite.DB }

// Vacuum: SQLite reuses a page a delete emptied (the freelist) at once.
func (sqliteGrower) Vacuum(context.Context) error { return nil }

func (g sqliteGrower) usedBytes(b *testing.B, _ string) int64 {
	n, err := g.UsedBytes(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return n
}

type postgresGrower struct {
	*postgres.DB
	raw *sql.DB
}

// openPostgresGrower opens a fresh database, and a connection of its own
// to vacuum it and read its tables' sizes.
func openPostgresGrower(b *testing.B, now func() time.Time) grower {
	dsn := pgtest.DSN(b)
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetClock(now)
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	return postgresGrower{db, raw}
}

// Vacuum vacuums the tables autovacuum would at its next round, by its
// default thresholds: dead rows past 50 and a fifth of the table's, or
// rows inserted since its last vacuum past 1,000 and a fifth.
func (g postgresGrower) Vacuum(ctx context.Context) error {
	rows, err := g.raw.QueryContext(ctx, `SELECT format('%I', s.relname) FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
		WHERE s.schemaname = current_schema() AND (s.n_dead_tup > 50 + 0.2 * GREATEST(c.reltuples, 0)
			OR s.n_ins_since_vacuum > 1000 + 0.2 * GREATEST(c.reltuples, 0))`)
	if err != nil {
		return err
	}
	var due []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		due = append(due, name)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range due {
		if _, err := g.raw.ExecContext(ctx, `VACUUM `+name); err != nil {
			return err
		}
	}
	return nil
}

// usedBytes logs each table's bytes (its partitions, indexes and TOAST
// together) and rows.
func (g postgresGrower) usedBytes(b *testing.B, when string) int64 {
	ctx := context.Background()
	rows, err := g.raw.QueryContext(ctx, `SELECT t.relname, SUM(pg_total_relation_size(s.oid))::bigint, SUM(pg_relation_size(s.oid))::bigint,
			SUM(GREATEST(s.reltuples, 0))::bigint
		FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
			JOIN pg_class s ON s.oid = t.oid OR s.oid IN (SELECT relid FROM pg_partition_tree(t.oid) WHERE relid <> t.oid)
		WHERE t.relkind IN ('r', 'p') AND NOT t.relispartition AND n.nspname = current_schema()
		GROUP BY t.relname ORDER BY 2 DESC LIMIT 6`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var total, heap, n int64
		if err := rows.Scan(&name, &total, &heap, &n); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %s %d bytes (heap %d, indexes and TOAST %d), %d rows", when, name, total, heap, total-heap, n)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	n, err := g.UsedBytes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
