package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"linkwatch/storage"
)

// TestLatencyCountMigration: rollup rows written before response times
// were counted apart keep their latency where they hold no failure (it is
// every check's, all of them responses), and lose it where they do (which
// buckets the failures fell in was not recorded): a failure's time to fail
// never becomes a response time. Their counts, for uptime, stay.
func TestLatencyCountMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite3", uriPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if strings.HasSuffix(m.Name, "_rollup_latency_count.sql") {
			continue
		}
		if _, err := raw.ExecContext(ctx, m.Body); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := raw.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 'then')`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Unix()
	// The old layout: every check's latency in the histogram. Minute 10:00
	// had six answers in 20 ms; 10:01 five of them and a DNS failure in
	// 3 s; the hour both.
	if _, err := raw.ExecContext(ctx, `INSERT INTO targets (id, key, kind, url) VALUES (1, 'https://a.test/', 'destination', 'https://a.test/');
		INSERT INTO rollup_minute VALUES (1, ?, 6, 0, 0, 20000, 20000, 120000, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0);
		INSERT INTO rollup_minute VALUES (1, ?, 6, 1, 0, 20000, 3000000, 3100000, 0, 5, 0, 0, 0, 0, 0, 1, 0, 0, 0);
		INSERT INTO rollup_hour VALUES (1, ?, 12, 1, 0, 20000, 3000000, 3220000, 0, 11, 0, 0, 0, 0, 0, 1, 0, 0, 0);
		INSERT INTO meta (key, value) VALUES ('rollup_hour_done', ?)`, t0, t0+60, t0, t0+3600); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
	// Read as the status page reads it: the clean minute's responses only.
	series, err := db.LatencySeries(ctx, []string{"https://a.test/"}, from, to.Add(time.Minute), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := series["https://a.test/"]; len(s) != 0 {
		t.Errorf("the hour (rolled up, with a failure) reads %+v, want no response time", s)
	}
}
