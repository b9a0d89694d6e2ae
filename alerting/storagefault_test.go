package alerting_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/storagefault"
)

// countingSink accepts every alert and counts each event it was given.
type countingSink struct {
	mu     sync.Mutex
	sent   map[string]int
	onSend func() // called once, after the first send
}

func (c *countingSink) Name() string { return "counting" }
func (c *countingSink) Send(_ context.Context, d alerting.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[d.Alert.EventID]++
	if c.onSend != nil {
		c.onSend()
		c.onSend = nil
	}
	return nil
}

// A delivered alert whose delivery the database cannot record (the disk is
// full) is not sent again: the outcome waits in memory, the write is
// retried with backoff, and it is recorded once the disk has room.
func TestDeliveredAlertIsNotResentWhileTheDiskIsFull(t *testing.T) {
	t.Parallel()
	dir := storagefault.SmallDisk(t, 8<<20)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "linkwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Now().UTC()}
	db.SetClock(clk.Now)
	events := queueAlerts(t, db, 2)
	sink := &countingSink{sent: map[string]int{}}
	d := newDispatcher(t, db, clk, sink)
	if err := db.FanOut(ctx, []string{sink.Name()}); err != nil {
		t.Fatal(err)
	}

	// The disk fills while the first alert is being sent: its claim was
	// written, its outcome cannot be.
	var free func()
	sink.onSend = func() { free = storagefault.FillDisk(t, dir) }
	if err := d.Drain(ctx, sink); err == nil {
		t.Fatal("Drain reported no error while the disk is full")
	}
	// A minute of dispatcher rounds on a full disk (the poll is 1 s).
	for range 60 {
		clk.Add(time.Second)
		_ = d.Drain(ctx, sink)
	}
	sink.mu.Lock()
	if n := sink.sent[events[0]]; n != 1 {
		t.Errorf("the first alert was sent %d times while its delivery could not be recorded, want once", n)
	}
	if n := sink.sent[events[1]]; n != 0 {
		t.Errorf("the second alert was sent %d times while the first one's record was pending, want 0", n)
	}
	sink.mu.Unlock()

	free()
	clk.Add(time.Minute) // the longest record backoff
	if err := d.Drain(ctx, sink); err != nil {
		t.Fatalf("Drain after the disk has room: %v", err)
	}
	for _, ev := range events {
		if n := sink.sent[ev]; n != 1 {
			t.Errorf("alert %s sent %d times in all, want once", ev, n)
		}
	}
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range log {
		if l.Status != "sent" || l.Attempts != 1 {
			t.Errorf("delivery %d: status %s after %d attempts (%s), want sent after 1", l.ID, l.Status, l.Attempts, l.LastError)
		}
	}
}
