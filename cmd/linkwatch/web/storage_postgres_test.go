package web

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
)

// TestStorageHealthFollowsPostgres: once running, the storage health
// fails while the database refuses connections and comes back by itself
// when it accepts them again, once its refused writes are older than the
// window (the pool reconnects; nothing restarts).
func TestStorageHealthFollowsPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, _ := url.Parse(dsn)
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	// A refused write keeps readiness down for the window after it: short here.
	rd := NewStorageHealth(db, 2*time.Second, nil)
	if err := rd.Check(ctx); err != nil {
		t.Fatalf("ready on a fresh database: %v", err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`) }()
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "not ready while the database refuses connections", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return rd.Check(cctx) != nil
	})
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "ready again once it accepts connections", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return rd.Check(cctx) == nil
	})
}

// waitUntil waits for cond, polling, at most limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond) // a poll of a real PostgreSQL: real time
	}
}
