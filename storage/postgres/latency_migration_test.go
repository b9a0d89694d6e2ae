package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestLatencyCountMigration: rollup rows written before response times
// were counted apart keep their latency where they hold no failure, and
// lose it where they do (which buckets the failures fell in was not
// recorded); their counts stay. As on SQLite.
func TestLatencyCountMigration(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	all, err := storage.Migrations(os.DirFS("."), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if strings.HasSuffix(m.Name, "_rollup_latency_count.sql") {
			continue
		}
		if _, err := conn.Exec(ctx, m.Body); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Unix()
	// The old layout (bucket, target_id, lat_min_us, lat_max_us,
	// lat_sum_us, count, failures, degraded, h0..h10): every check's
	// latency in the histogram. 10:00 had six answers in 20 ms; 10:01 five
	// and a DNS failure in 3 s; the hour both.
	var id int64
	if err := conn.QueryRow(ctx, `INSERT INTO targets (key, kind, url) VALUES ('https://a.test/', 'destination', 'https://a.test/') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO rollup_minute VALUES ($1, $2, 20000, 20000, 120000, 6, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0)`, []any{t0, id}},
		{`INSERT INTO rollup_minute VALUES ($1, $2, 20000, 3000000, 3100000, 6, 1, 0, 0, 5, 0, 0, 0, 0, 0, 1, 0, 0, 0)`, []any{t0 + 60, id}},
		{`INSERT INTO rollup_hour VALUES ($1, $2, 20000, 3000000, 3220000, 12, 1, 0, 0, 11, 0, 0, 0, 0, 0, 1, 0, 0, 0)`, []any{t0, id}},
		{`INSERT INTO meta (key, value) VALUES ('rollup_hour_done', $1)`, []any{t0 + 3600}},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	db, err := postgres.Open(ctx, dsn)
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
	series, err := db.LatencySeries(ctx, []string{"https://a.test/"}, from, to.Add(time.Minute), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := series["https://a.test/"]; len(s) != 0 {
		t.Errorf("the hour (rolled up, with a failure) reads %+v, want no response time", s)
	}
}
