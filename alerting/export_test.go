package alerting

import "time"

// SetClock replaces the dispatcher's clock in tests.
func SetClock(d *Dispatcher, now func() time.Time) { d.now = now }
