// Package storagetest is the contract storage.DB keeps on every database:
// one suite (its tests: go test ./storage/storagetest) run on SQLite and
// on PostgreSQL against fresh databases, and what the backends' own tests
// share.
package storagetest

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// Opened returns a database a backend's test helper opened (with err),
// closed when tb ends.
func Opened[DB interface{ Close() error }](tb testing.TB, db DB, err error) DB {
	tb.Helper()
	if err != nil {
		tb.Fatalf("open database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close database: %v", err)
		}
	})
	return db
}

// MigrationsBut returns the migrations of fsys's migrations/ but those
// whose names end in one of suffixes: what a build before them applied.
func MigrationsBut(tb testing.TB, fsys fs.FS, suffixes ...string) []storage.Migration {
	tb.Helper()
	all, err := storage.Migrations(fsys, "migrations")
	if err != nil {
		tb.Fatal(err)
	}
	return slices.DeleteFunc(all, func(m storage.Migration) bool {
		return slices.ContainsFunc(suffixes, func(suffix string) bool { return strings.HasSuffix(m.Name, suffix) })
	})
}

// CheckLatencyCountMigrated checks a database migrated with the rollups of
// TestLatencyCountMigration (each backend's): the minute of t0 (Unix
// seconds) without failures keeps its latency, the minute after it and
// the hour, which hold a failure, keep their counts and lose their
// latency (which buckets the failures fell in was not recorded).
func CheckLatencyCountMigrated(t *testing.T, db storage.Store, t0 int64) {
	t.Helper()
	ctx := context.Background()
	from, to := time.Unix(t0, 0), time.Unix(t0+3600, 0)
	mins, err := db.Rollups(ctx, "https://a.test/", time.Minute, from, to)
	if err != nil {
		t.Fatal(err)
	}
	hours, err := db.Rollups(ctx, "https://a.test/", time.Hour, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 2 || len(hours) != 1 {
		t.Fatalf("%d minute and %d hour rollups, want 2 and 1", len(mins), len(hours))
	}
	clean := storage.Rollup{TargetID: "https://a.test/", Start: from.UTC(), Count: 6, LatCount: 6,
		LatMin: 20 * time.Millisecond, LatMax: 20 * time.Millisecond, LatSum: 120 * time.Millisecond, Hist: [storage.HistColumns]int64{1: 6}}
	if mins[0] != clean {
		t.Errorf("a minute without failures = %+v, want it kept: %+v", mins[0], clean)
	}
	for _, r := range []storage.Rollup{mins[1], hours[0]} {
		if r.Count == 0 || r.Failures != 1 || r.LatCount != 0 || r.LatMin != 0 || r.LatMax != 0 || r.LatSum != 0 || r.Hist != ([storage.HistColumns]int64{}) {
			t.Errorf("a rollup with a failure = %+v, want its counts and no latency", r)
		}
	}
	series, err := db.LatencySeries(ctx, []string{"https://a.test/"}, from, to.Add(time.Minute), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := series["https://a.test/"]; len(s) != 0 {
		t.Errorf("the hour (rolled up, with a failure) reads %+v, want no response time", s)
	}
}

// UnpackedMinutes is the SQL (one statement a line, no parameters) of a
// database as a build before the packed minute rollups (PostgreSQL 0021,
// SQLite 0027) left it, with t0 (Unix seconds) the start of an hour: the
// target https://a.test/, two minute rows of the hour from t0, rolled up
// (its hour row, and the watermark past it), and one of the hour after,
// still open. CheckPackedMigration reads it back.
func UnpackedMinutes(t0 int64) []string {
	const id = `(SELECT id FROM targets WHERE key = 'https://a.test/')`
	cols := "(bucket, target_id, count, failures, degraded, lat_count, lat_min_us, lat_max_us, lat_sum_us, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10)"
	row := func(table string, bucket int64, values string) string {
		return fmt.Sprintf("INSERT INTO %s %s VALUES (%d, %s, %s)", table, cols, bucket, id, values)
	}
	return []string{
		`INSERT INTO targets (key, kind, url) VALUES ('https://a.test/', 'destination', 'https://a.test/')`,
		row("rollup_minute", t0, "6, 0, 0, 6, 20000, 30000, 150000, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0"),
		row("rollup_minute", t0+60, "6, 1, 1, 5, 20000, 700000, 800000, 0, 3, 0, 0, 1, 0, 1, 0, 0, 0, 0"),
		row("rollup_hour", t0, "12, 1, 1, 11, 20000, 700000, 950000, 0, 7, 2, 0, 1, 0, 1, 0, 0, 0, 0"),
		row("rollup_minute", t0+3600+300, "6, 0, 0, 6, 40000, 40000, 240000, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0"),
		fmt.Sprintf("INSERT INTO meta (key, value) VALUES ('rollup_hour_done', %d)", t0+3600),
	}
}

// CheckPackedMigration checks a database holding UnpackedMinutes(t0),
// migrated, whose clock is two hours and three minutes past t0: its
// minutes read back as they were written, before the hour after t0 is
// rolled up (and its minute packed) and after; the rolled-up hour's
// minutes stay in their rows, and every read adds both kinds.
func CheckPackedMigration(t *testing.T, db storage.Store, t0 int64) {
	t.Helper()
	ctx := context.Background()
	const u = "https://a.test/"
	from := time.Unix(t0, 0).UTC()
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	want := []storage.Rollup{
		{TargetID: u, Start: from, Count: 6, LatCount: 6, LatMin: ms(20), LatMax: ms(30), LatSum: ms(150), Hist: [storage.HistColumns]int64{1: 4, 2: 2}},
		{TargetID: u, Start: from.Add(time.Minute), Count: 6, Failures: 1, Degraded: 1, LatCount: 5, LatMin: ms(20), LatMax: ms(700), LatSum: ms(800),
			Hist: [storage.HistColumns]int64{1: 3, 4: 1, 6: 1}},
		{TargetID: u, Start: from.Add(65 * time.Minute), Count: 6, LatCount: 6, LatMin: ms(40), LatMax: ms(40), LatSum: ms(240), Hist: [storage.HistColumns]int64{2: 6}},
	}
	check := func(when string) {
		t.Helper()
		mins, err := db.Rollups(ctx, u, time.Minute, from, from.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(mins, want) {
			t.Errorf("%s: minute rollups\n%+v, want\n%+v", when, mins, want)
		}
		// An unknown span in the hour after t0: that hour is read from
		// its known minutes, in its row before the rollup and packed
		// after; the hour from t0 from its hour rollup.
		unknown := []linkwatch.Span{{From: from.Add(90 * time.Minute), To: from.Add(91 * time.Minute)}}
		h, err := db.LatencyHistograms(ctx, []string{u}, from, from.Add(2*time.Hour), unknown)
		if err != nil {
			t.Fatal(err)
		}
		if got := h[u]; got.Count != 18 || got.LatCount != 17 || got.LatMax != ms(700) || got.Hist != ([storage.HistColumns]int64{1: 7, 2: 8, 4: 1, 6: 1}) {
			t.Errorf("%s: latency read from the minutes = %+v, want the three minutes' 18 checks, 17 responses", when, got)
		}
		days, err := db.DailyStats(ctx, from.Truncate(24*time.Hour), from.Add(2*time.Hour), unknown)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 1 || days[0].Count != 18 || days[0].Failures != 1 || days[0].Degraded != 1 {
			t.Errorf("%s: daily stats %+v, want one day of 18 checks, a failure and a degraded one", when, days)
		}
	}
	check("migrated")
	if err := db.RollUp(ctx); err != nil {
		t.Fatal(err)
	}
	check("the hour after rolled up")
	hours, err := db.Rollups(ctx, u, time.Hour, from, from.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 2 || hours[1].Count != 6 || hours[1].LatSum != ms(240) {
		t.Errorf("hour rollups %+v, want the hour after t0 rolled up from its minute", hours)
	}
}
