//go:build linux

// Package pgtest hands tests fresh databases on a throwaway PostgreSQL
// server (pgserver's). It is imported only by tests, so the testing
// package never reaches the binary.
//
// One server serves a test binary, started on first use; Main stops it
// and removes its files. A test that takes the database down and up
// starts a server of its own (Own). Without the PostgreSQL binaries the
// tests skip, or fail when CI=true.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgserver"
	"linkwatch/storage/storagetest"
)

var (
	mu     sync.Mutex
	shared *Server
	dbSeq  atomic.Int64
)

// Server is a running throwaway server: pgserver's, with what a test
// asks of it failing the test instead of returning an error.
type Server struct {
	*pgserver.Server

	migrateOnce sync.Once
	migrated    string // the database MustOpen copies, once migrated
	migrateErr  error
}

// Main runs the package's tests (m is a *testing.M, or what wraps its
// Run), then stops the server if one was started: call it from TestMain.
func Main(m interface{ Run() int }) {
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
	return server(tb).DSN(tb)
}

// DSN returns the connection string of a fresh, empty database on s,
// dropped when tb ends.
func (s *Server) DSN(tb testing.TB) string {
	tb.Helper()
	return s.copyOf(tb, "template1")
}

// copyOf creates a database as a copy of template (template1 is the
// empty one), dropped when tb ends, and returns its connection string.
func (s *Server) copyOf(tb testing.TB, template string) string {
	tb.Helper()
	name := fmt.Sprintf("lw_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := s.CreateDatabaseFrom(context.Background(), name, template); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.DropDatabase(context.Background(), name); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s.Server.DSN(name)
}

// MustOpen opens a fresh database (migrated) and closes it when tb ends.
//
// The database is a copy of one that the binary's first MustOpen migrated
// with postgres.Open, the product's own path: the migrations run once per
// test binary rather than once per test (a copy takes a fraction of the
// time), and the tests of migrating itself use DSN, an empty database.
func MustOpen(tb testing.TB) *postgres.DB {
	tb.Helper()
	s := server(tb)
	s.migrateOnce.Do(func() {
		name := fmt.Sprintf("lw_%d_migrated", os.Getpid())
		if s.migrateErr = s.CreateDatabase(context.Background(), name); s.migrateErr != nil {
			return
		}
		// Kept until the server stops: every MustOpen of the binary copies it.
		db, err := postgres.Open(context.Background(), s.Server.DSN(name))
		if err != nil {
			s.migrateErr = fmt.Errorf("migrate the database to copy: %w", err)
			return
		}
		s.migrateErr = db.Close() // a template has no sessions: CREATE DATABASE refuses one that has
		s.migrated = name
	})
	if s.migrateErr != nil {
		tb.Fatalf("pgtest: %v", s.migrateErr)
	}
	db, err := postgres.Open(context.Background(), s.copyOf(tb, s.migrated))
	return storagetest.Opened(tb, db, err)
}

// server returns the binary's server, starting it on first use.
func server(tb testing.TB) *Server {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		shared = launch(tb)
	}
	return shared
}

// Own starts a server of tb's own, stopped when tb ends: for a test that
// takes the database down and up again (Down, Up), which would break
// every other test on the shared one.
func Own(tb testing.TB) *Server {
	tb.Helper()
	s := launch(tb)
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Down shuts the server down as an outage of the database does (fast
// shutdown: every session ends, every lock with it), keeping its data
// for Up.
func (s *Server) Down(tb testing.TB) {
	tb.Helper()
	s.Server.Down()
}

// Up starts the server Down shut down again, on the same port, with its
// data.
func (s *Server) Up(tb testing.TB) {
	tb.Helper()
	if err := s.Server.Up(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
}

// launch starts a server for tb, or skips tb where there is no PostgreSQL
// to start (fails under CI=true).
func launch(tb testing.TB) *Server {
	tb.Helper()
	bin, err := BinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pgtest: %v (CI=true: .ci/run installs Debian's postgresql package)", err)
		}
		tb.Skipf("pgtest: %v; install PostgreSQL (Debian: apt-get install postgresql) to run the PostgreSQL tests", err)
	}
	s, err := Start(bin)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return s
}

// BinDir finds the directory of initdb and postgres (pgserver.BinDir).
func BinDir() (string, error) { return pgserver.BinDir() }

// Start starts a server with the binaries of binDir (pgserver.Start) in
// memory where the machine has a tmpfs at /dev/shm; Stop stops it and
// removes its files.
//
// Why memory: a test database is a copy of the migrated one (about 9 MB
// in some 1,500 files), and on a disk file system each copy costs half a
// second of kernel time, creating and later deleting the files (measured
// on ext4 mounted with discard, CI's and this project's machines), where
// tmpfs takes 40 ms. The cluster holds a few tens of MB while the tests
// run, and Stop removes it.
func Start(binDir string) (*Server, error) {
	s, err := pgserver.StartIn(binDir, memoryDir())
	if err != nil {
		return nil, err
	}
	return &Server{Server: s}, nil
}

// memoryDir is /dev/shm where this process may make a directory in it,
// and "" (the default temporary directory) elsewhere. It first removes
// the clusters that test binaries killed before their Stop left there
// (memory, until the machine restarts).
func memoryDir() string {
	const shm = "/dev/shm"
	probe, err := os.MkdirTemp(shm, "linkwatch-probe-")
	if err != nil {
		return ""
	}
	os.Remove(probe)
	removeAbandoned(shm, time.Now())
	return shm
}

// removeAbandoned removes the clusters in dir whose server is gone and
// which nothing has written to for an hour: no postmaster.pid (a running
// server has one, and a server's shutdown removes it) and a log an hour
// old. A cluster being made (initdb) or down for a test's outage is
// younger than that.
func removeAbandoned(dir string, now time.Time) {
	clusters, _ := filepath.Glob(filepath.Join(dir, "linkwatch-pg-*"))
	for _, c := range clusters {
		if _, err := os.Stat(filepath.Join(c, "data", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		log, err := os.Stat(filepath.Join(c, "postgres.log"))
		if err != nil || now.Sub(log.ModTime()) < time.Hour {
			continue
		}
		os.RemoveAll(c)
	}
}
