package incidents

import "time"

// SetClock replaces the engine's clock in tests.
func SetClock(e *Engine, now func() time.Time) { e.now = now }
