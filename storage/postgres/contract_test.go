package postgres_test

import (
	"testing"
	"time"

	"linkwatch/storage"
	"linkwatch/storage/postgres/pgtest"
	"linkwatch/storage/storagetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestContract runs the storage contract against PostgreSQL: the same
// suite, unchanged, that the SQLite backend passes.
func TestContract(t *testing.T) {
	storagetest.Run(t, func(tb testing.TB, now func() time.Time) storage.Store {
		db := pgtest.MustOpen(tb)
		db.Now = now
		return db
	})
}
