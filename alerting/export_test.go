package alerting

import "time"

// SetPoll replaces the dispatcher's poll interval in tests.
func SetPoll(d *Dispatcher, poll time.Duration) { d.poll = poll }
