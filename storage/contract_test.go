package storage_test

import (
	"testing"
	"time"

	"linkwatch/storage"
	"linkwatch/storage/storagetest"
)

// TestContract runs the storage contract against SQLite.
func TestContract(t *testing.T) {
	storagetest.Run(t, func(tb testing.TB, now func() time.Time) storagetest.Store {
		db := storage.MustOpenDB(tb)
		db.Now = now
		return db
	})
}
