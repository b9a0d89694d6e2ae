package sqlite

import (
	"context"
	"testing"
	"time"

	"linkwatch/storage/storagetest"
)

// TestPackedMinutesMigration: a database whose minute rollups all have
// rows of their own (before 0027) reads them back after the migration,
// and its open hour's minutes are packed when the hour is rolled up. As
// on PostgreSQL.
func TestPackedMinutesMigration(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBut(t, "_rollup_minute_packed.sql")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, q := range storagetest.UnpackedMinutes(t0.Unix()) {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetClock(func() time.Time { return t0.Add(2*time.Hour + 3*time.Minute) })
	storagetest.CheckPackedMigration(t, db, t0.Unix())
}
