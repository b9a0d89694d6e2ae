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

func TestAddClicks(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	day := time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)
	a, b := hub.LinkKey{Page: "ada", Link: "go"}, hub.LinkKey{Page: "ada", Link: "blog"}
	steps := []struct {
		at    time.Time
		batch map[hub.LinkKey]hub.ClickCount
		want  map[hub.LinkKey]int64
	}{
		{day, map[hub.LinkKey]hub.ClickCount{a: {Clicks: 3}}, map[hub.LinkKey]int64{a: 3}},
		{day, map[hub.LinkKey]hub.ClickCount{a: {Clicks: 2, Fallback: 2}, b: {Clicks: 1}}, map[hub.LinkKey]int64{a: 5, b: 1}},
		{day.Add(2 * time.Minute), map[hub.LinkKey]hub.ClickCount{a: {Clicks: 1}}, map[hub.LinkKey]int64{a: 6, b: 1}}, // next day
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
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d: totals = %v, want %v", i, got, s.want)
		}
	}
	hour := func(h int) time.Time { return time.Date(2026, 11, 22, h, 0, 0, 0, time.UTC) }
	q := hub.ClickQuery{From: hour(0), To: hour(0).AddDate(0, 0, 2)}
	byHour, err := db.ClickCounts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	wantHour := []hub.ClickBucket{
		{Link: b, Start: hour(23), ClickCount: hub.ClickCount{Clicks: 1}},
		{Link: a, Start: hour(23), ClickCount: hub.ClickCount{Clicks: 5, Fallback: 2}},
		{Link: a, Start: hour(24), ClickCount: hub.ClickCount{Clicks: 1}},
	}
	if !reflect.DeepEqual(byHour, wantHour) {
		t.Errorf("by hour = %+v\nwant %+v", byHour, wantHour)
	}
	q.ByDay, q.Link, q.Page = true, "go", "ada"
	byDay, err := db.ClickCounts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	wantDay := []hub.ClickBucket{
		{Link: a, Start: hour(0), ClickCount: hub.ClickCount{Clicks: 5, Fallback: 2}},
		{Link: a, Start: hour(24), ClickCount: hub.ClickCount{Clicks: 1}},
	}
	if !reflect.DeepEqual(byDay, wantDay) {
		t.Errorf("by day = %+v\nwant %+v", byDay, wantDay)
	}
	// To is exclusive, From inclusive.
	q.From, q.To, q.ByDay = hour(23), hour(24), false
	if got, _ := db.ClickCounts(ctx, q); len(got) != 1 || got[0].Start != hour(23) {
		t.Errorf("[23h, 24h) = %+v, want the 23h bucket only", got)
	}
}

// A database whose clicks were kept per day keeps them through migration
// 0007: by day they are unchanged.
func TestClicksMigrationKeepsDayTotals(t *testing.T) {
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
