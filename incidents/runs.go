package incidents

import (
	"context"
	"fmt"
	"slices"
	"time"

	"linkwatch"
)

// continueRuns reads back the recent checks of the targets this engine
// checks, and takes in the current run of each one another replica
// checked since this engine last did (every target after a restart, or a
// host moved here): a target two failures into an outage, or seven
// answers into the ten a flapping incident needs, goes on from there.
// Counted from zero instead, a host whose owner changes every minute or
// so (replicas restarted in turn, killed, scaled) would never reach a
// flapping incident's ten successes, nor a short outage's failure
// threshold. A target this engine saw last keeps what it counted, which
// may hold checks its writer has not stored yet.
//
// The store keeps every check of a run's first storage.RunKept (a run
// begins at a change, and at the first check a process makes of a
// target), then one every 10 minutes. So a run is read back exactly up to
// the longest the engine counts to at the defaults (a flapping incident's
// FlapStable answers), and a longer one as shorter, which can only delay
// what the engine decides, never hasten it.
// With regions, each region checks every target and the store holds
// their checks together: the regions' recorded verdicts carry a target
// over instead (regions.go), and nothing is read here.
func (e *Engine) continueRuns(ctx context.Context) error {
	if e.regions != nil {
		return nil
	}
	var ids []string
	e.depsMu.RLock()
	for id := range e.deps {
		if e.owns == nil || e.owns(id) {
			ids = append(ids, id)
		}
	}
	e.depsMu.RUnlock()
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	// Enough to count to any threshold the engine compares a run with, and
	// the evidence an opening keeps; a run that ended more intervals ago
	// than that is no longer the target's current one.
	limit := max(e.cfg.FailureThreshold, e.cfg.SuccessThreshold, e.cfg.FlapStable, evidenceKept)
	since := e.now().Add(-time.Duration(limit+2) * e.cfg.Interval)
	checks, err := e.store.RecentChecks(ctx, ids, since, limit)
	if err != nil {
		return fmt.Errorf("incidents: read recent checks: %w", err)
	}
	for _, id := range ids {
		if rs := checks[id]; len(rs) > 0 {
			e.continueRun(id, rs)
		}
	}
	return nil
}

// continueRun takes in a target's current run from its recent checks,
// oldest first, unless this engine has seen a check as recent: the checks
// since the last change between failing and answering.
func (e *Engine) continueRun(id string, checks []linkwatch.Result) {
	last := checks[len(checks)-1]
	if ts := e.targets[id]; ts != nil && !last.Start.After(ts.seen) {
		return
	}
	from := len(checks) - 1
	for from > 0 && checks[from-1].OK() == last.OK() {
		from--
	}
	run := checks[from:]
	ts := e.target(id, last.Kind, last.URL)
	e.resetFailures(ts)
	ts.successes, ts.recovery, ts.answered = 0, false, nil
	ts.seen, ts.counted = last.Start, last.Start
	if last.OK() {
		ts.successes = len(run)
		for _, r := range run {
			ts.answered = append(ts.answered, r.Start)
		}
		return
	}
	if ts.kind == linkwatch.TargetDestination {
		e.failingDestinations++
	}
	ts.fails = len(run)
	ts.firstFail = run[0].Start.Add(run[0].Latency)
	ts.recent = slices.Clone(run[max(0, len(run)-evidenceKept):])
}

// dropAnswersBefore leaves out of a target's run of successes those read
// back from before since (an incident's start): its owner may have been
// killed before the failures that opened the incident were stored, and
// the answers before them are no recovery from it.
func (ts *targetState) dropAnswersBefore(since time.Time) {
	n := 0
	for n < len(ts.answered) && ts.answered[n].Before(since) {
		n++
	}
	ts.successes -= n
	ts.answered = ts.answered[n:]
}
