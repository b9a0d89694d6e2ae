//go:build linux

// Package pgtest hands each test a fresh database on a throwaway
// PostgreSQL server (pgserver's), one per test binary. It is imported only
// by tests, so the testing package never reaches a binary. Main stops the
// server and removes its files. Without the PostgreSQL binaries the tests
// skip, or fail when CI=true.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgserver"
	"linkwatch/storage/storagetest"
)

var (
	mu     sync.Mutex
	shared *pgserver.Server
	dbSeq  atomic.Int64
)

// Main runs the package's tests, then stops the server if one was
// started: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		shared = nil
	}
	mu.Unlock()
	os.Exit(code)
}

// DSN returns the connection string of a fresh, empty database on the
// test binary's server (started on first use), dropped when tb ends.
func DSN(tb testing.TB) string {
	tb.Helper()
	s := server(tb)
	name := fmt.Sprintf("lw_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.DropDatabase(ctx, name); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s.DSN(name)
}

// MustOpen opens a fresh database (migrated) and closes it when tb ends.
func MustOpen(tb testing.TB) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), DSN(tb))
	return storagetest.Opened(tb, db, err)
}

// server returns the binary's server, starting it on first use.
func server(tb testing.TB) *pgserver.Server {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared
	}
	bin, err := pgserver.BinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pgtest: %v (CI=true: .ci/run installs Debian's postgresql package)", err)
		}
		tb.Skipf("pgtest: %v; install PostgreSQL (Debian: apt-get install postgresql) to run the PostgreSQL tests", err)
	}
	s, err := pgserver.Start(bin)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	shared = s
	return s
}
