package sqlitetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"linkwatch/storage/sqlite"
	"linkwatch/storage/storagetest"
)

// Template is a database written once per test binary and copied for each
// test that opens it: for a fixture that costs seconds to write (days of
// results, rolled up), which every test of a package would otherwise
// write again.
type Template struct {
	// Seed writes the fixture into a fresh, migrated database; nil writes
	// nothing.
	Seed func(context.Context, *sqlite.DB) error

	once  sync.Once
	image []byte // the database file, once written
	err   error
}

// Open opens a fresh copy of the template, written on first use, and
// closes it when tb ends.
func (tp *Template) Open(tb testing.TB) *sqlite.DB {
	tb.Helper()
	tp.once.Do(func() { tp.image, tp.err = tp.write() })
	if tp.err != nil {
		tb.Fatalf("sqlitetest: %v", tp.err)
	}
	path := filepath.Join(tb.TempDir(), "linkwatch.db")
	if err := os.WriteFile(path, tp.image, 0o600); err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
	db, err := sqlite.Open(context.Background(), path)
	return storagetest.Opened(tb, db, err)
}

// write migrates and seeds a database in a directory of its own, closes
// it and returns its file, the directory removed. Closing the last
// connection checkpoints the write-ahead log into the file, so the file
// alone is the database.
func (tp *Template) write() ([]byte, error) {
	dir, err := os.MkdirTemp("", "linkwatch-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	if tp.Seed != nil {
		if err := tp.Seed(context.Background(), db); err != nil {
			db.Close()
			return nil, fmt.Errorf("seed the template: %w", err)
		}
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("the template's write-ahead log outlived its close")
	}
	return os.ReadFile(path)
}
