// Package backoff is the one rule for how long to wait before trying
// again after failures: a list of waits that grow with each failure in a
// row, the last one repeated, with optional jitter so many clients that
// failed together do not retry in lockstep. Alert deliveries, the record
// of their outcomes and the wait for a database at start all use it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is a schedule of waits between attempts. The zero Backoff waits
// nothing.
type Backoff struct {
	// Steps are the waits after one, two, three ... failures in a row;
	// past the last, the last one repeats.
	Steps []time.Duration
	// Jitter spreads each wait evenly over ±Jitter of it (0.2: ±20 %).
	Jitter float64
}

// Doubling is a backoff that starts at first and doubles up to most.
func Doubling(first, most time.Duration) Backoff {
	var steps []time.Duration
	for d := first; d < most; d *= 2 {
		steps = append(steps, d)
	}
	return Backoff{Steps: append(steps, most)}
}

// Delay is the wait before the next attempt after failures failed
// attempts in a row (1 after the first failure; 0 or less waits as 1).
func (b Backoff) Delay(failures int) time.Duration {
	if len(b.Steps) == 0 {
		return 0
	}
	d := b.Steps[min(max(failures, 1), len(b.Steps))-1]
	if b.Jitter > 0 {
		d = time.Duration(float64(d) * (1 - b.Jitter + 2*b.Jitter*rand.Float64()))
	}
	return d
}
