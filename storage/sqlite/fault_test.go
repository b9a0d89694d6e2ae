package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
	"linkwatch/storage/storagefault"
)

// openOn opens a database in dir, closed when the test ends.
func openOn(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(dir, "linkwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A write refused by the database (here a full disk) is remembered as a
// fault; a caller's own error is not one.
func TestWriteProbeAndFaultsOnAFullDisk(t *testing.T) {
	t.Parallel()
	dir := storagefault.SmallDisk(t, 8<<20)
	db := openOn(t, dir)
	ctx := context.Background()
	if err := db.WriteProbe(ctx); err != nil {
		t.Fatalf("write probe on a healthy database: %v", err)
	}
	if f := db.LastWriteFault(); f.Err != nil {
		t.Fatalf("fault before any: %v", f.Err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = db.WriteProbe(cctx)
	if f := db.LastWriteFault(); f.Err != nil || f.Count != 0 {
		t.Fatalf("a cancelled context counted as a storage fault: %v (%d)", f.Err, f.Count)
	}
	free := storagefault.FillDisk(t, dir)
	if err := db.WriteProbe(ctx); err == nil {
		t.Fatal("write probe committed on a full disk")
	}
	if f := db.LastWriteFault(); f.Err == nil {
		t.Fatal("the refused write was not recorded as a fault")
	}
	_ = db.WriteProbe(ctx)
	if f := db.LastWriteFault(); f.Count != 2 {
		t.Errorf("%d faults counted, want the 2 refused writes (a metric)", f.Count)
	}
	free()
	if err := db.WriteProbe(ctx); err != nil {
		t.Fatalf("write probe once the disk has room: %v", err)
	}
}

// The result writer counts what it drops when storage refuses a batch
// twice: a metric and the log report the gap.
func TestResultWriterCountsDroppedResultsOnAFullDisk(t *testing.T) {
	t.Parallel()
	dir := storagefault.SmallDisk(t, 8<<20)
	db := openOn(t, dir)
	var failures int
	w := storage.NewResultWriter(db, 10, time.Hour, func(err error) {
		if err != nil {
			failures++
		}
	})
	storagefault.FillDisk(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t0 := time.Now()
	for i := range 25 { // two full batches and five queued at shutdown
		w.Add(result("https://a.test/", t0.Add(time.Duration(i)*time.Second), time.Millisecond, linkwatch.StatusUp))
	}
	cancel()
	<-done
	if got := w.Dropped(); got != 25 {
		t.Errorf("Dropped() = %d, want all 25 results refused twice", got)
	}
	if failures == 0 {
		t.Error("no failed write reported")
	}
}
