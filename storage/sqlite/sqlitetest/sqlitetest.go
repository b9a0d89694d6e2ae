// Package sqlitetest opens SQLite databases for tests. It lives apart from
// package sqlite so that the testing package is linked only into tests,
// never into the binary.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"linkwatch/storage/sqlite"
	"linkwatch/storage/storagetest"
)

// MustOpen opens a fresh database in a temporary directory and closes it
// when the test ends.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "linkwatch.db"))
	return storagetest.Opened(tb, db, err)
}
