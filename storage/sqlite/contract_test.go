package sqlite_test

import (
	"testing"
	"time"

	"linkwatch/storage"
	"linkwatch/storage/sqlite/sqlitetest"
	"linkwatch/storage/storagetest"
)

// TestContract runs the storage contract against SQLite.
func TestContract(t *testing.T) {
	storagetest.Run(t, func(tb testing.TB, now func() time.Time) storage.Store {
		db := sqlitetest.MustOpen(tb)
		db.Now = now
		return db
	})
}
