package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ClickCount is a link's clicks over some time: every click, and how many
// of them were sent to the link's fallback.
type ClickCount struct {
	Clicks   int64 `json:"clicks"`
	Fallback int64 `json:"fallback"`
}

// ClickStore persists click counts. It is the only thing the hub needs from
// storage, and it is called off the redirect path.
type ClickStore interface {
	// AddClicks adds counts to the links' totals of the hour starting at
	// hour (UTC): the hour the clicks happened in.
	AddClicks(ctx context.Context, hour time.Time, counts map[LinkKey]ClickCount) error
}

// clickKey names a counter cell: a link's clicks to its destination, or to
// its fallback.
type clickKey struct {
	link     LinkKey
	fallback bool
}

// MaxHeldClicks bounds what a Counter keeps while its flushes fail (the
// database is down): counts of a link in an hour, each of any number of
// clicks, so 100,000 of them are 1,000 links for four days, in a few
// megabytes. Beyond it the oldest are dropped first, and counted
// (Dropped): the newest clicks are the ones still worth writing.
const MaxHeldClicks = 100_000

// Counter counts clicks in memory, by the hour they happen in, and flushes
// them to a ClickStore in batches, so a redirect never waits on the
// database. While the store fails, it holds the clicks, up to
// MaxHeldClicks link-hours, and writes them once it takes them.
type Counter struct {
	store ClickStore
	// now is the clock that says which hour a click happens in.
	now func() time.Time
	// maxHeld is MaxHeldClicks (tests lower it).
	maxHeld int

	mu    sync.Mutex // guards cells and spilled; the cells themselves are atomic
	cells map[clickKey]*hourly
	// spilled are clicks out of their cells: those of an hour whose cell
	// slot a later hour took before a flush could take them, and those of
	// a flush that failed, by hour.
	spilled map[int64]map[LinkKey]ClickCount

	dropped atomic.Int64 // clicks dropped because too many were held
}

// Dropped returns how many clicks have been dropped, in all, because
// more than MaxHeldClicks link-hours waited for a flush to succeed.
func (c *Counter) Dropped() int64 { return c.dropped.Load() }

// NewCounter returns a Counter that flushes to store.
func NewCounter(store ClickStore) *Counter {
	return &Counter{store: store, now: time.Now, maxHeld: MaxHeldClicks, cells: map[clickKey]*hourly{}, spilled: map[int64]map[LinkKey]ClickCount{}}
}

// cell returns the counter for key, shared across catalog reloads so a reload
// loses no pending click.
func (c *Counter) cell(key clickKey) *hourly {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.cells[key]
	if !ok {
		v = &hourly{key: key}
		c.cells[key] = v
	}
	return v
}

// click counts one click, now, into cell: on the redirect path, a compare
// and swap (and, once an hour at most, a lock when the cell's slot for the
// hour still holds an older hour's clicks, which no flush took).
func (c *Counter) click(cell *hourly) {
	if from, n := cell.add(hourOf(c.now())); n > 0 {
		c.mu.Lock()
		addClicks(c.spilled, from, cell.key, n)
		c.mu.Unlock()
	}
}

// hourly counts one cell's clicks by hour in two slots, even and odd
// hours, each holding an hour and its count in one word (the hour in the
// high bits): a click is one compare and swap, and a click at 10:59:58
// flushed at 11:00:03 is 10:00's.
type hourly struct {
	key   clickKey
	slots [2]atomic.Uint64
}

const (
	countBits = 40 // a trillion clicks an hour per link
	countMask = 1<<countBits - 1
	maxHour   = 1<<(64-countBits) - 1 // in the year 3883
)

// hourOf numbers t's hour since the Unix epoch, within what a slot holds.
func hourOf(t time.Time) int64 {
	return min(max(t.Unix()/3600, 1), maxHour)
}

func hourStart(hour int64) time.Time { return time.Unix(hour*3600, 0).UTC() }

// add counts a click of hour. When the hour's slot held another hour's
// clicks (two or more hours back that no flush took, or a later hour's
// if this click waited that long between reading the clock and counting),
// it takes the slot and returns that hour and its clicks, for the caller
// to keep.
func (h *hourly) add(hour int64) (from int64, n int64) {
	s := &h.slots[hour&1]
	for {
		v := s.Load()
		if int64(v>>countBits) == hour {
			if s.CompareAndSwap(v, v+1) {
				return 0, 0
			}
			continue
		}
		if s.CompareAndSwap(v, uint64(hour)<<countBits|1) {
			return int64(v >> countBits), int64(v & countMask)
		}
	}
}

// read passes each slot's hour and count to f, taking them (the slot keeps
// its hour, at zero) when take is set.
func (h *hourly) read(take bool, f func(hour, n int64)) {
	for i := range h.slots {
		s := &h.slots[i]
		for {
			v := s.Load()
			n := int64(v & countMask)
			if n == 0 {
				break
			}
			if !take || s.CompareAndSwap(v, v&^countMask) {
				f(int64(v>>countBits), n)
				break
			}
		}
	}
}

// addClicks adds n clicks of the cell key in hour to byHour.
func addClicks(byHour map[int64]map[LinkKey]ClickCount, hour int64, key clickKey, n int64) {
	counts := byHour[hour]
	if counts == nil {
		counts = map[LinkKey]ClickCount{}
		byHour[hour] = counts
	}
	cc := counts[key.link]
	cc.Clicks += n
	if key.fallback {
		cc.Fallback += n
	}
	counts[key.link] = cc
}

// collect reads (or takes) every cell into counts by hour and link, with
// the spilled ones. The caller holds c.mu.
func (c *Counter) collect(take bool) map[int64]map[LinkKey]ClickCount {
	out := map[int64]map[LinkKey]ClickCount{}
	for hour, counts := range c.spilled {
		for k, n := range counts {
			addClicks(out, hour, clickKey{k, false}, n.Clicks-n.Fallback)
			addClicks(out, hour, clickKey{k, true}, n.Fallback)
		}
	}
	for _, cell := range c.cells {
		cell.read(take, func(hour, n int64) { addClicks(out, hour, cell.key, n) })
	}
	for hour, counts := range out {
		maps.DeleteFunc(counts, func(_ LinkKey, n ClickCount) bool { return n.Clicks == 0 })
		if len(counts) == 0 {
			delete(out, hour)
		}
	}
	return out
}

// Pending returns the clicks not yet flushed, by link, whatever their hour.
func (c *Counter) Pending() map[LinkKey]ClickCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[LinkKey]ClickCount{}
	for _, counts := range c.collect(false) {
		for k, n := range counts {
			out[k] = ClickCount{out[k].Clicks + n.Clicks, out[k].Fallback + n.Fallback}
		}
	}
	return out
}

// Flush writes pending clicks, one batch per hour they happened in (one,
// or two across an hour's end). A batch that fails is kept, so the next
// flush retries it and no click is lost, unless more than MaxHeldClicks
// link-hours are held: then the oldest are dropped (Dropped counts them).
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.Lock()
	byHour := c.collect(true)
	clear(c.spilled)
	c.mu.Unlock()
	var errs []error
	for _, hour := range slices.Sorted(maps.Keys(byHour)) {
		batch := byHour[hour]
		if err := c.store.AddClicks(ctx, hourStart(hour), batch); err != nil {
			c.mu.Lock()
			for k, n := range batch {
				addClicks(c.spilled, hour, clickKey{k, false}, n.Clicks-n.Fallback)
				addClicks(c.spilled, hour, clickKey{k, true}, n.Fallback)
			}
			c.mu.Unlock()
			errs = append(errs, fmt.Errorf("flush %d link click counts of %s: %w", len(batch), hourStart(hour).Format("2006-01-02 15:00 MST"), err))
		}
	}
	if len(errs) > 0 {
		c.mu.Lock()
		c.trim()
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// trim drops the oldest held link-hours (by hour, then page and link)
// beyond maxHeld, counting their clicks as dropped. The caller holds c.mu.
func (c *Counter) trim() {
	held := 0
	for _, counts := range c.spilled {
		held += len(counts)
	}
	for _, hour := range slices.Sorted(maps.Keys(c.spilled)) {
		counts := c.spilled[hour]
		for _, k := range slices.SortedFunc(maps.Keys(counts), LinkKey.Compare) {
			if held <= c.maxHeld {
				return
			}
			c.dropped.Add(counts[k].Clicks)
			delete(counts, k)
			held--
		}
		delete(c.spilled, hour)
	}
}

// ClickQuery selects click counts: one page's (or every page's), one
// link's (or every link's), in [From, To), by hour or by UTC day.
type ClickQuery struct {
	Page  string
	Link  string
	From  time.Time
	To    time.Time
	ByDay bool
}

// ClickBucket is one link's clicks over one hour or day starting at Start.
type ClickBucket struct {
	Link  LinkKey
	Start time.Time
	ClickCount
}

// ClickReader is what the clicks API reads.
type ClickReader interface {
	ClickCounts(ctx context.Context, q ClickQuery) ([]ClickBucket, error)
}
