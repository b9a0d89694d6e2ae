package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"linkwatch/incidents/admin"
	"linkwatch/statuspage"
	"linkwatch/storage"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/storagefault"
)

// faultClock is the storage health's clock in these tests.
type faultClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *faultClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *faultClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// readyOn opens a database in dir and the storage health over it, both
// on one fake clock.
func readyOn(t *testing.T, dir string) (*sqlite.DB, *StorageHealth, *faultClock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "linkwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &faultClock{now: time.Now()}
	db.SetClock(clk.Now)
	rd := NewStorageHealth(db, 10*time.Second, nil)
	rd.now = clk.Now
	return db, rd, clk
}

// readyz answers /readyz/storage through the route table, and checks
// that /readyz stays 200 whatever storage says: visitors are served from
// memory.
func readyz(t *testing.T, rd *StorageHealth, timeout time.Duration) int {
	t.Helper()
	h := New(Handlers{Hub: testHub(t), Admin: new(admin.API), Status: new(statuspage.Server), Health: Health{Ready: new(Readiness), Storage: rd, Timeout: timeout}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz/storage", nil))
	if rec.Code != 200 && !strings.HasPrefix(rec.Body.String(), "storage unavailable: ") {
		t.Errorf("/readyz/storage = %d %q: no reason given", rec.Code, rec.Body)
	}
	if (rec.Code == 200) != rd.Up() {
		t.Errorf("/readyz/storage = %d, Up() = %v", rec.Code, rd.Up())
	}
	ready := httptest.NewRecorder()
	h.ServeHTTP(ready, httptest.NewRequest("GET", "/readyz", nil))
	if ready.Code != 200 {
		t.Errorf("/readyz = %d while storage answers %d: readiness follows storage", ready.Code, rec.Code)
	}
	return rec.Code
}

func TestReadyzOnAReadOnlyFile(t *testing.T) {
	t.Parallel()
	dir := storagefault.DiskDir(t)
	_, rd, clk := readyOn(t, dir)
	if code := readyz(t, rd, time.Second); code != 200 {
		t.Fatalf("healthy: /readyz = %d", code)
	}
	writable := storagefault.ReadOnly(t, filepath.Join(dir, "linkwatch.db"))
	clk.Add(ProbeEvery)
	if code := readyz(t, rd, time.Second); code != http.StatusServiceUnavailable {
		t.Fatalf("read-only file system: /readyz = %d, want 503", code)
	}
	writable()
	clk.Add(10 * time.Second) // the refused write is now older than the window
	if code := readyz(t, rd, time.Second); code != 200 {
		t.Fatalf("writable again: /readyz = %d, want 200", code)
	}
}

func TestReadyzOnAFullDisk(t *testing.T) {
	t.Parallel()
	dir := storagefault.SmallDisk(t, 8<<20)
	_, rd, clk := readyOn(t, dir)
	if code := readyz(t, rd, time.Second); code != 200 {
		t.Fatalf("healthy: /readyz = %d", code)
	}
	free := storagefault.FillDisk(t, dir)
	clk.Add(ProbeEvery)
	if code := readyz(t, rd, time.Second); code != http.StatusServiceUnavailable {
		t.Fatalf("full disk: /readyz = %d, want 503", code)
	}
	free()
	clk.Add(10 * time.Second)
	if code := readyz(t, rd, time.Second); code != 200 {
		t.Fatalf("room again: /readyz = %d, want 200", code)
	}
}

// Another connection holds the write lock (BEGIN IMMEDIATE), as another
// process would: not ready, and ready again once it lets go.
func TestReadyzWhileAnotherConnectionHoldsTheWriteLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, rd, clk := readyOn(t, dir)
	if code := readyz(t, rd, time.Second); code != 200 {
		t.Fatalf("healthy: /readyz = %d", code)
	}
	release := storagefault.HoldWriteLock(t, filepath.Join(dir, "linkwatch.db"))
	clk.Add(ProbeEvery)
	// The probe waits for SQLite's busy timeout; /readyz does not.
	if code := readyz(t, rd, 200*time.Millisecond); code != http.StatusServiceUnavailable {
		t.Fatalf("write lock held: /readyz = %d, want 503", code)
	}
	release()
	// The waiting probe now commits; /readyz waits for its verdict.
	if code := readyz(t, rd, time.Minute); code != 200 {
		t.Fatalf("lock released: /readyz = %d, want 200", code)
	}
}

// countingStore answers every read and write, counting them.
type countingStore struct{ pings, probes atomic.Int32 }

func (s *countingStore) Ping(context.Context) error         { s.pings.Add(1); return nil }
func (s *countingStore) WriteProbe(context.Context) error   { s.probes.Add(1); return nil }
func (s *countingStore) LastWriteFault() storage.WriteFault { return storage.WriteFault{} }

// /readyz/storage is public and not rate limited: a flood of it reaches
// the database once per ProbeEvery, its read included.
func TestStorageHealthFloodReachesTheDatabaseOncePerProbe(t *testing.T) {
	t.Parallel()
	store := &countingStore{}
	rd := NewStorageHealth(store, 10*time.Second, nil)
	clk := &faultClock{now: time.Now()}
	rd.now = clk.Now
	for range 100 {
		if code := readyz(t, rd, time.Second); code != 200 {
			t.Fatalf("/readyz/storage = %d", code)
		}
	}
	if p, w := store.pings.Load(), store.probes.Load(); p != 1 || w != 1 {
		t.Errorf("100 checks within ProbeEvery: %d reads and %d writes, want 1 and 1", p, w)
	}
	clk.Add(ProbeEvery)
	readyz(t, rd, time.Second)
	if p, w := store.pings.Load(), store.probes.Load(); p != 2 || w != 2 {
		t.Errorf("a check after ProbeEvery: %d reads and %d writes in all, want 2 and 2", p, w)
	}
}

// A database that answers while its schema is being made (a replica
// migrating at start, or waiting for another's migration) cannot write
// yet, so /readyz/storage says 503; but it is no outage: the outage alert
// is not told of it, and the write probe, whose table may not exist yet,
// is not tried. Once the schema is made, the probe decides.
func TestStorageHealthWhileMigrating(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := &countingStore{}
		migrated := make(chan struct{})
		h := NewStorageHealth(store, 10*time.Second, migrated)
		clk := &faultClock{now: time.Now()}
		h.now = clk.Now
		if code := readyz(t, h, time.Second); code != http.StatusServiceUnavailable {
			t.Errorf("migrating: /readyz/storage = %d, want 503", code)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var observed []error
		ticks := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.Run(ctx, time.Millisecond, time.Second, func(_ context.Context, err error) {
				observed = append(observed, err)
				cancel()
			})
		}()
		for ; ticks < 3; ticks++ {
			clk.Add(ProbeEvery)
			time.Sleep(5 * time.Millisecond) // a few of Run's checks (the bubble's time), unobserved
		}
		if w := store.probes.Load(); w != 0 {
			t.Errorf("%d write probes while migrating, want none", w)
		}
		close(migrated)
		clk.Add(ProbeEvery)
		<-done
		if len(observed) != 1 || observed[0] != nil {
			t.Errorf("observed %v, want one verdict, up, once migrated", observed)
		}
		if w := store.probes.Load(); w != 1 {
			t.Errorf("%d write probes once migrated, want 1", w)
		}
	})
}
