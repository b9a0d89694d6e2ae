package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"linkwatch/storage/sqlite"
	"linkwatch/storage/storagefault"
)

// faultClock is readiness's clock in these tests.
type faultClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *faultClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *faultClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// readyOn opens a database in dir and the readiness check over it, both on
// one fake clock.
func readyOn(t *testing.T, dir string) (*sqlite.DB, *Readiness, *faultClock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "linkwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &faultClock{now: time.Now()}
	db.SetClock(clk.Now)
	rd := NewReadiness(db, 10*time.Second)
	rd.now = clk.Now
	return db, rd, clk
}

// readyz answers /readyz through the real handler.
func readyz(rd *Readiness, timeout time.Duration) int {
	rec := httptest.NewRecorder()
	Starting(Health{Ready: rd, Timeout: timeout}).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	return rec.Code
}

func TestReadyzOnAReadOnlyFile(t *testing.T) {
	dir := storagefault.DiskDir(t)
	_, rd, clk := readyOn(t, dir)
	if code := readyz(rd, time.Second); code != 200 {
		t.Fatalf("healthy: /readyz = %d", code)
	}
	writable := storagefault.ReadOnly(t, filepath.Join(dir, "linkwatch.db"))
	clk.Add(ProbeEvery)
	if code := readyz(rd, time.Second); code != http.StatusServiceUnavailable {
		t.Fatalf("read-only file system: /readyz = %d, want 503", code)
	}
	writable()
	clk.Add(10 * time.Second) // the refused write is now older than the window
	if code := readyz(rd, time.Second); code != 200 {
		t.Fatalf("writable again: /readyz = %d, want 200", code)
	}
}

func TestReadyzOnAFullDisk(t *testing.T) {
	dir := storagefault.SmallDisk(t, 8<<20)
	_, rd, clk := readyOn(t, dir)
	if code := readyz(rd, time.Second); code != 200 {
		t.Fatalf("healthy: /readyz = %d", code)
	}
	free := storagefault.FillDisk(t, dir)
	clk.Add(ProbeEvery)
	if code := readyz(rd, time.Second); code != http.StatusServiceUnavailable {
		t.Fatalf("full disk: /readyz = %d, want 503", code)
	}
	free()
	clk.Add(10 * time.Second)
	if code := readyz(rd, time.Second); code != 200 {
		t.Fatalf("room again: /readyz = %d, want 200", code)
	}
}

// Another connection holds the write lock (BEGIN IMMEDIATE), as another
// process would: not ready, and ready again once it lets go.
func TestReadyzWhileAnotherConnectionHoldsTheWriteLock(t *testing.T) {
	dir := t.TempDir()
	_, rd, clk := readyOn(t, dir)
	if code := readyz(rd, time.Second); code != 200 {
		t.Fatalf("healthy: /readyz = %d", code)
	}
	release := storagefault.HoldWriteLock(t, filepath.Join(dir, "linkwatch.db"))
	clk.Add(ProbeEvery)
	// The probe waits for SQLite's busy timeout; /readyz does not.
	if code := readyz(rd, 200*time.Millisecond); code != http.StatusServiceUnavailable {
		t.Fatalf("write lock held: /readyz = %d, want 503", code)
	}
	release()
	// The waiting probe now commits; /readyz waits for its verdict.
	if code := readyz(rd, time.Minute); code != 200 {
		t.Fatalf("lock released: /readyz = %d, want 200", code)
	}
}

// Shutting down fails readiness, not storage: the metrics' storage_up
// stays what the database says while the process drains.
func TestStorageHealthIsNotReadiness(t *testing.T) {
	_, rd, _ := readyOn(t, t.TempDir())
	rd.Stop()
	if err := rd.Ready(t.Context()); !errors.Is(err, ErrStopping) {
		t.Errorf("Ready while stopping = %v, want ErrStopping", err)
	}
	if err := rd.Storage(t.Context()); err != nil {
		t.Errorf("Storage while stopping = %v, want nil: the database is fine", err)
	}
}
