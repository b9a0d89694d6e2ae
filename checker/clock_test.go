package checker

import (
	"sync"
	"time"
)

// fakeClock is the checker's clock in tests: Now is what the test says,
// and Advance (fresh_test.go) moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
