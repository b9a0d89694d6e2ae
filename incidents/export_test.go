package incidents

import (
	"context"
	"time"

	"linkwatch"
)

// SetClock replaces the engine's clock in tests.
func SetClock(e *Engine, now func() time.Time) { e.now = now }

// OpenInMemory returns the engine's open incidents as it holds them in
// memory, by key, so tests can compare memory with the database.
func OpenInMemory(e *Engine) map[string]linkwatch.Incident {
	out := map[string]linkwatch.Incident{}
	for k, inc := range e.open {
		out[k] = *inc
	}
	return out
}

// Divert is the fallback switch rule.
var Divert = divert

// Sync waits until the running engine has handled everything sent to it
// before, so a test may then feed it from its own goroutine.
func Sync(e *Engine) {
	done := make(chan struct{})
	e.requests <- func() { close(done) }
	<-done
}

// Refresh reloads the open incidents from the store, as Run does every
// RefreshEvery.
func Refresh(e *Engine) error { return e.refresh(context.Background(), e.regions == nil) }
