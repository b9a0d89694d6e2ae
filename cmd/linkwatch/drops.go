package main

import (
	"log/slog"
	"sync"
)

// dropReport logs, at most once a minute, the results the writer dropped
// because storage refused them: never silent, never one line a second.
type dropReport struct {
	dropped func() int64 // the running total
	log     *slog.Logger

	mu       sync.Mutex
	reported int64 // the total at the last report
	failures int   // failed writes since
	lastErr  error
}

// note is the result writer's error callback.
func (d *dropReport) note(err error) {
	d.mu.Lock()
	d.failures++
	d.lastErr = err
	d.mu.Unlock()
}

// report logs what happened since the last report, if anything did.
func (d *dropReport) report() {
	d.mu.Lock()
	total := d.dropped()
	n, failures, lastErr := total-d.reported, d.failures, d.lastErr
	d.reported, d.failures, d.lastErr = total, 0, nil
	d.mu.Unlock()
	if failures == 0 && n == 0 {
		return
	}
	d.log.Error("storage refused check results: the history has a gap", "dropped_results", n, "dropped_total", total,
		"failed_writes", failures, "last_err", lastErr)
}
