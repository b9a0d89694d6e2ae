// Package sqlitetest opens SQLite databases for tests. It lives apart from
// package sqlite so that the testing package is linked only into tests,
// never into the binary.
package sqlitetest

import (
	"testing"

	"linkwatch/storage/sqlite"
)

// migrated is the empty database at the latest version: migrated once
// per test binary and copied for each test, as pgtest copies PostgreSQL's
// (the migrations rebuild tables and cost a test a third of a second of
// CPU under -race; the tests of migrating itself open files of their
// own).
var migrated Template

// MustOpen opens a fresh database, migrated, in a temporary directory
// and closes it when the test ends.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return migrated.Open(tb)
}
