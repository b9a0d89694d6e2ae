package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"linkwatch/storage/storagetest"
)

// TestLatencyCountMigration: rollup rows written before response times
// were counted apart keep their latency where they hold no failure (it is
// every check's, all of them responses), and lose it where they do (which
// buckets the failures fell in was not recorded): a failure's time to fail
// never becomes a response time. Their counts, for uptime, stay.
func TestLatencyCountMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, raw := migratedBut(t, "_rollup_latency_count.sql")
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
	storagetest.CheckLatencyCountMigrated(t, db, t0)
}

// migratedBut makes a database file migrated with every migration but the
// one whose name ends in but, as a database of the version before it was,
// and returns its path and a raw connection to it, for a test to fill
// with rows of the old layout, close, and open with Open (which migrates).
func migratedBut(t *testing.T, but string) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite3", uriPath(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if err := withConn(ctx, raw, func(conn *sql.Conn) error {
		return migrate(ctx, conn, storagetest.MigrationsBut(t, migrationFS, but))
	}); err != nil {
		t.Fatal(err)
	}
	return path, raw
}
