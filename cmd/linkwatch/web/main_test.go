package web

import (
	"testing"

	"linkwatch/storage/postgres/pgtest"
)

// TestMain stops the package's throwaway PostgreSQL server and removes its
// files when the tests have run (without it, every run left its cluster
// behind, in /dev/shm).
func TestMain(m *testing.M) { pgtest.Main(m) }
