package alerting

import "time"

// SetClock replaces the dispatcher's clock in tests.
func SetClock(d *Dispatcher, now func() time.Time) { d.now = now }

// SetPoll replaces the dispatcher's poll interval in tests.
func SetPoll(d *Dispatcher, poll time.Duration) { d.poll = poll }
