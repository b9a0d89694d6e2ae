package incidents_test

import (
	"testing"

	"linkwatch/storage/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL server the regions' tests start
// (onBothStores).
func TestMain(m *testing.M) { pgtest.Main(m) }
