package hub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// ClickStore persists click counts. It is the only thing the hub needs from
// storage, and it is called off the redirect path.
type ClickStore interface {
	AddClicks(ctx context.Context, counts map[LinkKey]int64) error
}

// Counter counts clicks in memory and flushes them to a ClickStore in batches,
// so a redirect never waits on the database.
type Counter struct {
	store ClickStore

	mu    sync.Mutex // guards cells; the cells themselves are atomic
	cells map[LinkKey]*atomic.Int64

	redirects atomic.Int64 // every redirect served to a visitor, for metrics
}

// Redirects returns how many redirects have been served to visitors (HEAD
// requests included, the prober's self-checks not).
func (c *Counter) Redirects() int64 { return c.redirects.Load() }

// NewCounter returns a Counter that flushes to store.
func NewCounter(store ClickStore) *Counter {
	return &Counter{store: store, cells: map[LinkKey]*atomic.Int64{}}
}

// cell returns the counter for key, shared across catalog reloads so a reload
// loses no pending click.
func (c *Counter) cell(key LinkKey) *atomic.Int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.cells[key]
	if !ok {
		v = new(atomic.Int64)
		c.cells[key] = v
	}
	return v
}

// Pending returns the clicks not yet flushed, by link.
func (c *Counter) Pending() map[LinkKey]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[LinkKey]int64{}
	for k, v := range c.cells {
		if n := v.Load(); n > 0 {
			out[k] = n
		}
	}
	return out
}

// Flush writes pending clicks in one batch. On failure the clicks are put
// back, so the next flush retries them and none is lost.
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.Lock()
	batch := map[LinkKey]int64{}
	for k, v := range c.cells {
		if n := v.Swap(0); n > 0 {
			batch[k] = n
		}
	}
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := c.store.AddClicks(ctx, batch); err != nil {
		c.mu.Lock()
		for k, n := range batch {
			c.cells[k].Add(n)
		}
		c.mu.Unlock()
		return fmt.Errorf("flush %d link click counts: %w", len(batch), err)
	}
	return nil
}
