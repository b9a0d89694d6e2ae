//go:build linux

package pgtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRemoveAbandoned: only a cluster without a server (no postmaster.pid)
// whose log nobody has written to for an hour is removed; a running one, a
// recent one, one still being made, and whatever else is in the directory
// stay.
func TestRemoveAbandoned(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	cluster := func(name string, pid bool, logAge time.Duration) string {
		c := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(c, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if pid {
			if err := os.WriteFile(filepath.Join(c, "data", "postmaster.pid"), []byte("1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if logAge >= 0 {
			log := filepath.Join(c, "postgres.log")
			if err := os.WriteFile(log, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(log, now.Add(-logAge), now.Add(-logAge)); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	abandoned := cluster("linkwatch-pg-1", false, 2*time.Hour)
	running := cluster("linkwatch-pg-2", true, 2*time.Hour) // a server idle for two hours
	recent := cluster("linkwatch-pg-3", false, 10*time.Minute)
	making := cluster("linkwatch-pg-4", false, -1) // initdb under way: no log yet
	other := cluster("someone-else", false, 2*time.Hour)
	removeAbandoned(dir, now)
	removeAbandoned(filepath.Join(dir, "missing"), now) // nothing to do, nothing fails
	if _, err := os.Stat(abandoned); !os.IsNotExist(err) {
		t.Errorf("the abandoned cluster is still there (%v)", err)
	}
	for _, kept := range []string{running, recent, making, other} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(kept), err)
		}
	}
}
