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
// write again. Call Remove from TestMain once the tests have run.
type Template struct {
	// Seed writes the fixture into a fresh database.
	Seed func(context.Context, *sqlite.DB) error

	once sync.Once
	dir  string // holds the written database; removed by Remove
	err  error
}

const templateFile = "template.db"

// Open opens a fresh copy of the template, written on first use, and
// closes it when tb ends.
func (tp *Template) Open(tb testing.TB) *sqlite.DB {
	tb.Helper()
	tp.once.Do(func() { tp.err = tp.write() })
	if tp.err != nil {
		tb.Fatalf("sqlitetest: %v", tp.err)
	}
	b, err := os.ReadFile(filepath.Join(tp.dir, templateFile))
	if err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
	path := filepath.Join(tb.TempDir(), "linkwatch.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatalf("sqlitetest: %v", err)
	}
	db, err := sqlite.Open(context.Background(), path)
	return storagetest.Opened(tb, db, err)
}

// write seeds the template's database and closes it: closing its last
// connection checkpoints the write-ahead log into the file, so the file
// alone is the database.
func (tp *Template) write() error {
	dir, err := os.MkdirTemp("", "linkwatch-template-")
	if err != nil {
		return err
	}
	tp.dir = dir
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, templateFile))
	if err != nil {
		return err
	}
	if err := tp.Seed(context.Background(), db); err != nil {
		db.Close()
		return fmt.Errorf("seed the template: %w", err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, templateFile+"-wal")); !errors.Is(err, os.ErrNotExist) {
		return errors.New("the template's write-ahead log outlived its close")
	}
	return nil
}

// Remove removes the template's file, if it was written.
func (tp *Template) Remove() {
	if tp.dir != "" {
		os.RemoveAll(tp.dir)
	}
}
