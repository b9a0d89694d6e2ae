package hub

import (
	"context"
	"fmt"
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
	AddClicks(ctx context.Context, counts map[LinkKey]ClickCount) error
}

// clickKey names a counter cell: a link's clicks to its destination, or to
// its fallback.
type clickKey struct {
	link     LinkKey
	fallback bool
}

// Counter counts clicks in memory and flushes them to a ClickStore in batches,
// so a redirect never waits on the database.
type Counter struct {
	store ClickStore

	mu    sync.Mutex // guards cells; the cells themselves are atomic
	cells map[clickKey]*atomic.Int64

	redirects atomic.Int64 // every redirect served to a visitor, for metrics
}

// Redirects returns how many redirects have been served to visitors (HEAD
// requests included, the prober's self-checks not).
func (c *Counter) Redirects() int64 { return c.redirects.Load() }

// NewCounter returns a Counter that flushes to store.
func NewCounter(store ClickStore) *Counter {
	return &Counter{store: store, cells: map[clickKey]*atomic.Int64{}}
}

// cell returns the counter for key, shared across catalog reloads so a reload
// loses no pending click.
func (c *Counter) cell(key clickKey) *atomic.Int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.cells[key]
	if !ok {
		v = new(atomic.Int64)
		c.cells[key] = v
	}
	return v
}

// collect reads every cell with read (Load or Swap(0)) into counts by link.
// The caller holds c.mu.
func (c *Counter) collect(read func(*atomic.Int64) int64) map[LinkKey]ClickCount {
	out := map[LinkKey]ClickCount{}
	for k, v := range c.cells {
		n := read(v)
		if n <= 0 {
			continue
		}
		cc := out[k.link]
		cc.Clicks += n
		if k.fallback {
			cc.Fallback += n
		}
		out[k.link] = cc
	}
	return out
}

// Pending returns the clicks not yet flushed, by link.
func (c *Counter) Pending() map[LinkKey]ClickCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.collect((*atomic.Int64).Load)
}

// Flush writes pending clicks in one batch. On failure the clicks are put
// back, so the next flush retries them and none is lost.
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.Lock()
	batch := c.collect(func(v *atomic.Int64) int64 { return v.Swap(0) })
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := c.store.AddClicks(ctx, batch); err != nil {
		c.mu.Lock()
		for k, n := range batch {
			c.cells[clickKey{k, false}].Add(n.Clicks - n.Fallback)
			if n.Fallback > 0 {
				c.cells[clickKey{k, true}].Add(n.Fallback)
			}
		}
		c.mu.Unlock()
		return fmt.Errorf("flush %d link click counts: %w", len(batch), err)
	}
	return nil
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
