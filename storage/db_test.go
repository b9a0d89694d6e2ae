package storage

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"linkwatch/hub"
)

func TestOpenAppliesMigrationsOnce(t *testing.T) {
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
	db := MustOpenDB(t)
	if _, err := db.reader.ExecContext(context.Background(), `INSERT INTO clicks VALUES ('a','b','2026-01-01',1)`); err == nil {
		t.Fatal("write through the reader pool succeeded; it must be query-only")
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	if _, err := Open(context.Background(), ""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing-dir", "x.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func TestAddClicks(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	day := time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)
	db.Now = func() time.Time { return day }
	a, b := hub.LinkKey{Page: "ada", Link: "go"}, hub.LinkKey{Page: "ada", Link: "blog"}
	steps := []struct {
		at    time.Time
		batch map[hub.LinkKey]int64
		want  map[hub.LinkKey]int64
	}{
		{day, map[hub.LinkKey]int64{a: 3}, map[hub.LinkKey]int64{a: 3}},
		{day, map[hub.LinkKey]int64{a: 2, b: 1}, map[hub.LinkKey]int64{a: 5, b: 1}},
		{day.Add(2 * time.Minute), map[hub.LinkKey]int64{a: 1}, map[hub.LinkKey]int64{a: 6, b: 1}}, // next day
	}
	for i, s := range steps {
		db.Now = func() time.Time { return s.at }
		if err := db.AddClicks(ctx, s.batch); err != nil {
			t.Fatalf("step %d: AddClicks: %v", i, err)
		}
		got, err := db.ClickTotals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(s.want) || got[a] != s.want[a] || got[b] != s.want[b] {
			t.Errorf("step %d: totals = %v, want %v", i, got, s.want)
		}
	}
	var days int
	if err := db.reader.QueryRowContext(ctx, `SELECT COUNT(DISTINCT day) FROM clicks`).Scan(&days); err != nil || days != 2 {
		t.Errorf("distinct days = %d (%v), want 2", days, err)
	}
}

func TestPing(t *testing.T) {
	db := MustOpenDB(t)
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
		if m.version == 5 {
			continue
		}
		if _, err := raw.Exec(m.body); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 'then')`, m.version, m.name); err != nil {
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
