package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"linkwatch/storage/storagetest"
)

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lw.db")
	for i := range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		var n int
		if err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		names, _ := migrationFS.ReadDir("migrations")
		if n != len(names) {
			t.Errorf("open #%d: %d migrations recorded, want %d", i+1, n, len(names))
		}
		var journal string
		if err := db.reader.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&journal); err != nil || journal != "wal" {
			t.Errorf("journal_mode = %q (%v), want wal", journal, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReaderIsReadOnly(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	if _, err := db.reader.ExecContext(context.Background(), `INSERT INTO clicks VALUES ('a','b','2026-01-01T00',1,0)`); err == nil {
		t.Fatal("write through the reader pool succeeded; it must be query-only")
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	t.Parallel()
	if _, err := Open(context.Background(), ""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing-dir", "x.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}

// TestOpenPathWithURICharacters: a path with '#', '?' or '%' opens that
// very file, with its parameters (WAL), not a file named by a prefix.
func TestOpenPathWithURICharacters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a#b?c=1%20d.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.writer.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q: the parameters were lost", mode)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %s; the directory holds %v", path, names)
	}
}

// TestMigrationWithALowerNumberIsApplied: a database migrated by a build
// that had migration 6 but not 5 (two branches merged) gets 5 at the next
// start instead of skipping it.
func TestMigrationWithALowerNumberIsApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lw.db")
	raw, err := sql.Open("sqlite3", uriPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Version == 5 {
			continue
		}
		if _, err := raw.Exec(m.Body); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 'then')`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = 5`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("migration 5 applied %d times (%v)", n, err)
	}
	if _, _, err := db.FeedIDs(ctx, nil); err != nil {
		t.Errorf("what migration 5 adds is missing: %v", err)
	}
}

// mustOpen is sqlitetest.MustOpen for this package's own tests, which
// cannot import sqlitetest: it imports this package.
func mustOpen(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "linkwatch.db"))
	return storagetest.Opened(tb, db, err)
}
