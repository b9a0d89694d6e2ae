package hub

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
)

// testClock is the counter's clock in tests: it says what the test sets.
type testClock struct{ now atomic.Pointer[time.Time] }

func (c *testClock) Now() time.Time { return *c.now.Load() }

func (c *testClock) Set(t time.Time) { c.now.Store(&t) }

// clicksAt returns a fallback server whose counter reads clock, and a
// function that clicks path at a time of the test's day.
func clicksAt(t *testing.T, store ClickStore) (srv *Server, counter *Counter, at func(hh, mm, ss int, path string)) {
	t.Helper()
	srv, counter = newFallbackServer(t, store)
	clock := &testClock{}
	counter.now = clock.Now
	return srv, counter, func(hh, mm, ss int, path string) {
		clock.Set(time.Date(2026, 11, 22, hh, mm, ss, 0, time.UTC))
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
}

var (
	shop = LinkKey{"acme", "shop"}
	blog = LinkKey{"acme", "blog"}
)

// A click counts in the hour it happened in, not the hour it is flushed
// in: clicks at 10:59:58 flushed at 11:00:03, with one of 11:00:01, are
// two batches, one per hour. (The store used to put the whole batch in the
// hour of the flush.)
func TestClicksCountInTheHourTheyHappen(t *testing.T) {
	store := &memStore{}
	srv, counter, click := clicksAt(t, store)
	click(10, 59, 58, "/acme/shop")
	click(10, 59, 58, "/acme/blog")
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{shop: {Down: true, Fallback: fallbackURL}}))
	click(10, 59, 59, "/acme/shop")
	click(11, 0, 1, "/acme/shop")
	srv.ObserveHealth(linkwatch.Health{})
	click(11, 0, 2, "/acme/shop")
	if err := counter.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[LinkKey]ClickCount{
		"10:00": {shop: {Clicks: 2, Fallback: 1}, blog: {Clicks: 1}},
		"11:00": {shop: {Clicks: 2, Fallback: 1}},
	}
	if !reflect.DeepEqual(store.hours, want) {
		t.Errorf("stored by hour %v, want %v", store.hours, want)
	}
	if p := counter.Pending(); len(p) != 0 {
		t.Errorf("pending after the flush: %v", p)
	}
}

// The unlucky orders: the store fails across the hour's end, and the
// clicks of 10:00, kept, are still 10:00's when they are written at 12:00
// past; and no flush comes for two hours, so a click of 12:00 finds its
// slot (even hours') still holding 10:00's.
func TestClicksKeepTheirHourThroughFailuresAndLongGaps(t *testing.T) {
	store := &memStore{fail: errors.New("disk full")}
	_, counter, click := clicksAt(t, store)
	click(10, 59, 58, "/acme/shop")
	click(11, 0, 2, "/acme/shop")
	if err := counter.Flush(context.Background()); err == nil {
		t.Fatal("Flush succeeded against a failing store")
	}
	if got := counter.Pending()[shop]; got.Clicks != 2 {
		t.Fatalf("pending after a failed flush: %+v, want the 2 clicks kept", got)
	}
	click(11, 30, 0, "/acme/blog")
	click(12, 0, 5, "/acme/shop") // takes the slot of 10:00, whose click the failed flush kept apart
	click(12, 0, 6, "/acme/blog")
	click(14, 10, 0, "/acme/blog") // takes the slot of 12:00 from a click never flushed
	store.fail = nil
	if err := counter.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[LinkKey]ClickCount{
		"10:00": {shop: {Clicks: 1}},
		"11:00": {shop: {Clicks: 1}, blog: {Clicks: 1}},
		"12:00": {shop: {Clicks: 1}, blog: {Clicks: 1}},
		"14:00": {blog: {Clicks: 1}},
	}
	if !reflect.DeepEqual(store.hours, want) {
		t.Errorf("stored by hour %v, want %v", store.hours, want)
	}
}

// While the store fails (the database is down), clicks are held up to
// the bound, link-hours beyond it dropped oldest first and counted, and
// what is held is written, each click in its hour, once the store takes
// writes again.
func TestClicksHeldWhileTheStoreFailsAreBounded(t *testing.T) {
	store := &memStore{fail: errors.New("connection refused")}
	_, counter, click := clicksAt(t, store)
	counter.maxHeld = 3
	flush := func() {
		t.Helper()
		if err := counter.Flush(context.Background()); err == nil {
			t.Fatal("Flush succeeded against a failing store")
		}
	}
	click(10, 0, 0, "/acme/shop")
	click(10, 0, 1, "/acme/shop")
	click(10, 0, 2, "/acme/blog")
	flush() // 2 link-hours held
	click(11, 0, 0, "/acme/shop")
	click(11, 0, 1, "/acme/blog")
	flush() // 4: 10:00's blog, the oldest, goes
	if got := counter.Dropped(); got != 1 {
		t.Errorf("dropped %d clicks, want 1 (10:00's click of blog)", got)
	}
	for range 5 {
		click(12, 0, 0, "/acme/shop")
	}
	flush() // 4 again: 10:00's shop goes
	if got := counter.Dropped(); got != 3 {
		t.Errorf("dropped %d clicks, want 3 (every click of 10:00)", got)
	}
	if got := counter.Pending(); got[shop].Clicks != 6 || got[blog].Clicks != 1 {
		t.Errorf("held %v, want shop 6 (11:00, 12:00) and blog 1 (11:00)", got)
	}
	store.fail = nil
	if err := counter.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[LinkKey]ClickCount{
		"11:00": {shop: {Clicks: 1}, blog: {Clicks: 1}},
		"12:00": {shop: {Clicks: 5}},
	}
	if !reflect.DeepEqual(store.hours, want) {
		t.Errorf("stored by hour %v, want %v", store.hours, want)
	}
	if got := counter.Dropped(); got != 3 {
		t.Errorf("dropped %d clicks after the store came back, want still 3", got)
	}
}

// Clicks counted while flushes run and hours end are each counted once:
// none lost, none twice, each in an hour it could have happened in.
func TestClicksCountedOnceWhileFlushing(t *testing.T) {
	store := &memStore{}
	srv, counter := newFallbackServer(t, store)
	clock := &testClock{}
	start := time.Date(2026, 11, 22, 10, 59, 0, 0, time.UTC)
	clock.Set(start)
	counter.now = clock.Now
	const clickers, each = 8, 500
	var wg sync.WaitGroup
	for range clickers {
		wg.Go(func() {
			for range each {
				srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/acme/shop", nil))
			}
		})
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// 10:59, 11:19, ... to 16:59: each slot taken by hour after hour.
			clock.Set(start.Add(time.Duration(min(i, 18)) * 20 * time.Minute))
			if err := counter.Flush(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	if err := counter.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var total int64
	for h, counts := range store.hours {
		if h < "10:00" || h > "16:00" {
			t.Errorf("clicks in %s, outside the test's hours", h)
		}
		total += counts[shop].Clicks
	}
	if total != clickers*each || store.counts[shop].Clicks != clickers*each {
		t.Errorf("stored %d clicks (%v), want %d", total, store.hours, clickers*each)
	}
}
