package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"linkwatch/storage"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite"
)

// testBackend is a storage backend the end-to-end test runs linkwatch on: the same test, the same expectations, each backend.
type testBackend struct {
	name string
	// fresh makes an empty database and returns the config's storage
	// section for it (a YAML flow mapping), the environment the section
	// needs, and how the test opens the database once linkwatch is done.
	fresh func(t *testing.T, dir string) (section string, env map[string]string, open func(t *testing.T) storage.Store)
}

var testBackends = []testBackend{
	{"sqlite", func(t *testing.T, dir string) (string, map[string]string, func(t *testing.T) storage.Store) {
		path := filepath.Join(dir, "lw.db")
		return fmt.Sprintf("{path: %q}", path), nil, func(t *testing.T) storage.Store {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatalf("open %s: %v", path, err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	}},
	{"postgres", func(t *testing.T, dir string) (string, map[string]string, func(t *testing.T) storage.Store) {
		dsn := pgtest.DSN(t) // skips without PostgreSQL, fails under CI=true
		// The DSN comes from the environment, as a deployment's would.
		return "{driver: postgres, dsn: '${LINKWATCH_TEST_DSN}'}", map[string]string{"LINKWATCH_TEST_DSN": dsn}, func(t *testing.T) storage.Store {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatalf("open the test database: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	}},
}
