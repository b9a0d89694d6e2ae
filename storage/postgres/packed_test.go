package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/storagetest"
)

// TestPackedMinutesMigration: a database whose minute rollups all have
// rows of their own (before 0021) reads them back after the migration,
// and its open hour's minutes are packed when the hour is rolled up. As
// on SQLite.
func TestPackedMinutesMigration(t *testing.T) {
	dsn, old := migratedBut(t, "_rollup_minute_packed.sql")
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, q := range storagetest.UnpackedMinutes(t0.Unix()) {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetClock(func() time.Time { return t0.Add(2*time.Hour + 3*time.Minute) })
	storagetest.CheckPackedMigration(t, db, t0.Unix())
}

// TestMinutesPackedByHour: once an hour is rolled up, its minute rollups
// take one row per target, about 16 bytes a minute, where a row per
// minute took about 120 bytes of tuple and columns alone (issue 27: a
// minute row's header, line pointer and index entry kept PostgreSQL at
// 5.8 times SQLite's bytes).
func TestMinutesPackedByHour(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	now := t0
	db.SetClock(func() time.Time { return now })
	const targets = 20
	for s := time.Duration(0); s < time.Hour; s += 10 * time.Second {
		batch := make([]linkwatch.Result, targets)
		for j := range batch {
			u := fmt.Sprintf("https://t%d.test/", j)
			batch[j] = linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: t0.Add(s),
				Latency: time.Duration(40+j*7+int(s/time.Second)%150) * time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200}
		}
		if err := db.SaveResults(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(time.Hour + 3*time.Minute)
	if err := db.RollUp(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var minuteRows, packedRows, packedBytes int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM rollup_minute), (SELECT count(*) FROM rollup_minute_packed),
		(SELECT COALESCE(SUM(pg_column_size(p.*)), 0) FROM rollup_minute_packed p)`).Scan(&minuteRows, &packedRows, &packedBytes); err != nil {
		t.Fatal(err)
	}
	if minuteRows != 0 || packedRows != targets {
		t.Errorf("after the rollup: %d minute rows and %d packed rows, want 0 and %d (one per target)", minuteRows, packedRows, targets)
	}
	if per := packedBytes / targets / 60; per > 24 {
		t.Errorf("a packed minute takes %d bytes, want at most 24", per)
	}
	mins, err := db.Rollups(ctx, "https://t3.test/", time.Minute, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 60 || mins[59].Count != 6 || mins[59].LatCount != 6 {
		t.Errorf("packed minutes read back: %+v; want 60 of 6 checks", mins)
	}
}
