package postgres_test

import (
	"context"
	"testing"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestRollupsByDay: the rollups (minutes, packed minutes, hours) live in
// a partition per UTC day. A row whose day has no partition yet waits in
// the default one and moves into its day's when retention makes it; retention drops a past day's
// partition whole, so no row of it is deleted one by one.
func TestRollupsByDay(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) // far from the server's today
	now := day.Add(12 * time.Hour)
	db.SetClock(func() time.Time { return now })
	const u = "https://a.test/"
	save := func(at time.Time) {
		t.Helper()
		r := linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: at, Latency: time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200}
		if err := db.SaveResults(ctx, []linkwatch.Result{r}); err != nil {
			t.Fatal(err)
		}
	}
	where := func(table string, at time.Time) string {
		t.Helper()
		var part string
		if err := conn.QueryRow(ctx, `SELECT tableoid::regclass::text FROM `+table+` WHERE bucket = $1`, at.Unix()).Scan(&part); err != nil {
			return err.Error()
		}
		return part
	}
	exists := func(name string) bool {
		t.Helper()
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	keep := storage.Retention{Raw: 48 * time.Hour, Minute: 24 * time.Hour, Hour: 90 * 24 * time.Hour}

	first := day.Add(10 * time.Hour)
	save(first)
	if p := where("rollup_minute", first); p != "rollup_minute_default" {
		t.Fatalf("a minute of a day without its partition is in %s, want the default partition", p)
	}
	// Its hour rolled up: its minutes packed, in the default partition too.
	if err := db.RollUp(ctx); err != nil {
		t.Fatal(err)
	}
	if p := where("rollup_minute_packed", first); p != "rollup_minute_packed_default" {
		t.Fatalf("the packed minutes of a day without its partition are in %s, want the default partition", p)
	}
	if _, err := db.Prune(ctx, keep); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rollup_minute_20261122", "rollup_minute_20261125", "rollup_minute_packed_20261122", "rollup_minute_packed_20261125",
		"rollup_hour_20261122", "rollup_hour_20261125"} {
		if !exists(name) {
			t.Errorf("retention did not make %s (today and the next three days)", name)
		}
	}
	if p := where("rollup_minute_packed", first); p != "rollup_minute_packed_20261122" {
		t.Errorf("the minutes packed before their day's partition are in %s, want rollup_minute_packed_20261122", p)
	}
	second := day.Add(24*time.Hour + 10*time.Hour)
	save(second)
	if p := where("rollup_minute", second); p != "rollup_minute_20261123" {
		t.Errorf("a minute of the next day is in %s, want rollup_minute_20261123", p)
	}

	// Two days on, the first day is past 24 hours whole: its partition is
	// dropped, the second day's kept.
	now = day.Add(2*24*time.Hour + time.Hour)
	n, err := db.Prune(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	if exists("rollup_minute_20261122") || !exists("rollup_minute_20261123") || !exists("rollup_minute_20261127") {
		t.Errorf("after retention on 24 Nov: 22 Nov's partition kept %v, 23 Nov's %v, 27 Nov's made %v; want false, true, true",
			exists("rollup_minute_20261122"), exists("rollup_minute_20261123"), exists("rollup_minute_20261127"))
	}
	if exists("rollup_minute_packed_20261122") || !exists("rollup_minute_packed_20261127") {
		t.Errorf("after retention on 24 Nov: 22 Nov's packed minutes kept %v, 27 Nov's made %v; want false, true",
			exists("rollup_minute_packed_20261122"), exists("rollup_minute_packed_20261127"))
	}
	mins, err := db.Rollups(ctx, u, time.Minute, day, day.Add(4*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 1 || !mins[0].Start.Equal(second) {
		t.Errorf("minute rollups after retention: %+v, want the second day's alone", mins)
	}
	if n < 0 {
		t.Errorf("Prune returned %d rows", n)
	}
}
