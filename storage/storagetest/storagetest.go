// Package storagetest is the contract storage.DB keeps on every database:
// one suite (its tests: go test ./storage/storagetest) run on SQLite and
// on PostgreSQL against fresh databases, and what the backends' own tests
// share.
package storagetest

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

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
