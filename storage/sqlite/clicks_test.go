package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"linkwatch/hub"
)

func TestClicksMigrationKeepsDayTotals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite3", uriPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	for i, name := range names {
		if strings.HasPrefix(filepath.Base(name), "0007") {
			break
		}
		body, _ := fs.ReadFile(migrationFS, name)
		if _, err := raw.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := raw.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, '')`, i+1, filepath.Base(name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO clicks (page, link, day, count) VALUES ('ada', 'go', '2026-11-21', 7)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	got, err := db.ClickCounts(ctx, hub.ClickQuery{From: day, To: day.AddDate(0, 0, 1), ByDay: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []hub.ClickBucket{{Link: hub.LinkKey{Page: "ada", Link: "go"}, Start: day, ClickCount: hub.ClickCount{Clicks: 7}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after migration = %+v, want %+v", got, want)
	}
}
