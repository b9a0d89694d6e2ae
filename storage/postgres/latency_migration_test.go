package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver of database/sql

	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/storagetest"
)

// TestLatencyCountMigration: rollup rows written before response times
// were counted apart keep their latency where they hold no failure, and
// lose it where they do (which buckets the failures fell in was not
// recorded); their counts stay. As on SQLite.
func TestLatencyCountMigration(t *testing.T) {
	t.Parallel()
	// The old layout: before 0011, and so before 0016 (the rollups by
	// day) and 0021 (which replaces 0016's partition function), which
	// every real database applies after it.
	dsn, _ := migratedBut(t, "_rollup_latency_count.sql", "_rollups_by_day.sql", "_rollup_minute_packed.sql")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
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
	storagetest.CheckLatencyCountMigrated(t, db, t0)
}

// migratedBut makes a fresh database migrated with every migration but
// those whose names end in one of but, as a database of the version before
// them was, and returns its DSN and a connection to it (closed when t
// ends), for a test to fill with rows of the old layout and then open with
// Open (which migrates).
func migratedBut(t *testing.T, but ...string) (string, *sql.Conn) {
	t.Helper()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := postgres.Migrate(ctx, conn, storagetest.MigrationsBut(t, postgres.MigrationFS, but...)); err != nil {
		t.Fatal(err)
	}
	return dsn, conn
}
