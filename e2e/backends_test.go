package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
	"linkwatch/storage/postgres"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/sqlite"
)

// backend is a database linkwatch runs on in these tests: the same test,
// the same expectations, each backend.
type backend struct {
	name string
	// fresh makes an empty database and returns the config's storage
	// section for it (a YAML flow mapping), the environment the section
	// needs, and how the test opens the database to look inside.
	fresh func(t *testing.T, dir string) (section string, env []string, open func(t *testing.T) storage.Store)
}

var backends = []backend{
	{"sqlite", func(t *testing.T, dir string) (string, []string, func(t *testing.T) storage.Store) {
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
	{"postgres", func(t *testing.T, dir string) (string, []string, func(t *testing.T) storage.Store) {
		dsn := pgtest.DSN(t) // skips without PostgreSQL, fails under CI=true
		// The DSN comes from the environment, as a deployment's would.
		return "{driver: postgres, dsn: '${LINKWATCH_TEST_DSN}'}", []string{"LINKWATCH_TEST_DSN=" + dsn}, func(t *testing.T) storage.Store {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatalf("open the test database: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	}},
}

// integrityCheck is SQLite's verdict on its file, or "ok" for a backend
// that keeps no file of its own (PostgreSQL: the kill is linkwatch's, the
// server is untouched).
func integrityCheck(t *testing.T, db storage.Store) string {
	t.Helper()
	ic, ok := db.(interface {
		IntegrityCheck(ctx context.Context) (string, error)
	})
	if !ok {
		return "ok"
	}
	res, err := ic.IntegrityCheck(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// incidentKeys lists every incident's correlation key.
func incidentKeys(t *testing.T, db storage.Store) []string {
	t.Helper()
	list, err := db.ListIncidents(context.Background(), linkwatch.IncidentQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, inc := range list {
		keys = append(keys, inc.Key)
	}
	return keys
}

// checkedUp reports whether the last result written for target is up.
func checkedUp(t *testing.T, db storage.Store, target string) bool {
	t.Helper()
	checks, err := db.RecentChecks(context.Background(), []string{target}, time.Time{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	res := checks[target]
	return len(res) == 1 && res[0].Status == linkwatch.StatusUp
}
