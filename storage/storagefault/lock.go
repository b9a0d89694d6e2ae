// Package storagefault breaks a linkwatch database the way databases break in
// life, for tests: a full disk, a read-only file system, a write lock held
// by another connection. Nothing here is an injected error: SQLite meets
// the real condition.
package storagefault

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the second connection of HoldWriteLock
)

// HoldWriteLock opens a second connection to the database at path and takes
// its write lock (BEGIN IMMEDIATE), as another process would; release
// rolls back and closes it. It needs no privilege.
func HoldWriteLock(tb testing.TB, path string) (release func()) {
	tb.Helper()
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=0")
	if err != nil {
		tb.Fatalf("open a second connection: %v", err)
	}
	conn, err := other.Conn(context.Background())
	if err != nil {
		tb.Fatalf("second connection: %v", err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		tb.Fatalf("take the write lock: %v", err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		other.Close()
	}
	tb.Cleanup(release)
	return release
}
