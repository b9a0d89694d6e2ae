// Package schedule runs the prober: every target once per interval at a
// stable offset, on a bounded pool of workers, skipping (never stacking) a
// target whose previous check still runs, with lag statistics; a target
// handed over after a slot of its was missed gets one check at once
// (HandOver). It reports the checks made: one the checker skipped (its
// host asked for a back-off) observed nothing, and is only counted.
package schedule

import (
	"linkwatch"
	"linkwatch/checker"

	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Prober checks one target. *Checker is the real one; tests use fakes.
type Prober interface {
	Check(ctx context.Context, t linkwatch.Target) linkwatch.Result
}

// DefaultWorkers is the default of probe.workers: the config applies it,
// and New where the option is left zero (probe.interval's default is
// linkwatch.DefaultInterval).
const DefaultWorkers = 512

// Options configure a Scheduler.
type Options struct {
	Interval time.Duration // how often each target is checked (default linkwatch.DefaultInterval)
	Workers  int           // checks in flight at most (default DefaultWorkers)
	// OnResult receives the result of every check made, from many
	// goroutines at once. It must not block for long: a slow consumer
	// delays the workers. A check the checker skipped (Result.Skipped: a
	// host asked for a back-off) is not passed on: it saw nothing of the
	// target, so it must count neither for nor against it (failure streaks,
	// uptime, latency); Stats.BackedOff counts it.
	OnResult func(linkwatch.Result)
	// Now is the clock the intervals are laid on (default time.Now): a
	// target's slot is the same instant on every replica whose clock is
	// the same, so a host handed from one to another is still checked
	// once an interval. serve gives it the database's (storage.DB.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Scheduler checks every target once per interval. Each target starts at a
// stable offset within the interval (a hash of its ID), so checks are spread
// evenly instead of bursting at the top of each interval, and a host sees
// its checks at the same rhythm every time.
type Scheduler struct {
	prober Prober
	opts   Options

	mu      sync.Mutex
	entries []*entry // sorted by offset

	// changed is signalled (never blocking) by SetTargets, so a cycle
	// waiting for a slot, or for the next interval, looks at the list
	// again: a target gained may have its slot in this interval before
	// the one waited for.
	changed chan struct{}

	// catchUps are the checks of targets handed over after a slot of
	// theirs was missed (HandOver), in time order; caught is signalled
	// (never blocking) when they change.
	catchUps []catchUp
	caught   chan struct{}

	lag       lagWindow
	checks    atomic.Int64
	skipped   atomic.Int64
	backedOff atomic.Int64
	caughtUp  atomic.Int64
}

// catchUp is a check of a target out of its slot: one its previous owner
// left unchecked (HandOver).
type catchUp struct {
	e  *entry
	at time.Time
}

type entry struct {
	target linkwatch.Target
	offset time.Duration
	// running is set while a check is in flight, so a due check is skipped,
	// not stacked. It is shared with the entry that replaces this one on
	// SetTargets, so a reload cannot start a second check of a slow target.
	running *atomic.Bool
}

// NewScheduler returns a scheduler for targets.
func New(p Prober, targets []linkwatch.Target, opts Options) *Scheduler {
	if opts.Interval <= 0 {
		opts.Interval = linkwatch.DefaultInterval
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.OnResult == nil {
		opts.OnResult = func(linkwatch.Result) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{prober: p, opts: opts}
	s.SetTargets(targets)
	s.changed = make(chan struct{}, 1)
	s.caught = make(chan struct{}, 1)
	return s
}

// SetTargets replaces the target list. A target gained is checked at its
// slot in the current interval if that is still ahead, else from the next
// interval on; one kept across the change keeps its slot and its in-flight
// state, and is not checked twice in an interval; one given away is not
// checked from then on, not even at the slot being waited for.
func (s *Scheduler) SetTargets(targets []linkwatch.Target) {
	s.set(targets, time.Time{})
}

// HandOver replaces the target list as SetTargets does, for targets handed
// over by replicas that all stopped checking them by since: a joiner's,
// whose hosts the others gave away at their heartbeats before it took
// them (shard.Assignment.Since). A gained target whose last slot came
// after since was missed there: nobody checked it. Alone, that miss leaves
// it unchecked for 2 intervals; a second hand-over before its next slot
// (the joiner killed) would make it 3. So it is checked at once (its
// catch-up), spread over a tenth of an interval in slot order, and keeps
// its slot: the catch-up comes at most 0.4 intervals after the slot
// missed, more than half an interval before the next one, so the two
// are not a double check. One whose missed slot is older than that is
// checked at its next slot, less than 0.6 intervals away. A gained target
// whose last slot came before since was checked there by its previous
// owner, and is checked at its next slot, as SetTargets does: a hand-over
// adds no check to a target that missed none.
func (s *Scheduler) HandOver(targets []linkwatch.Target, since time.Time) {
	s.set(targets, since)
}

// catchUpLatest is how long after a missed slot a catch-up may come: more
// than half an interval before the next slot, with a tenth of one to spare
// for scheduling lag.
func catchUpLatest(interval time.Duration) time.Duration { return interval * 4 / 10 }

func (s *Scheduler) set(targets []linkwatch.Target, since time.Time) {
	now := s.opts.Now()
	every := s.opts.Interval
	s.mu.Lock()
	defer s.mu.Unlock()
	old := make(map[string]*entry, len(s.entries))
	for _, e := range s.entries {
		old[e.target.ID] = e
	}
	entries := make([]*entry, 0, len(targets))
	seen := make(map[string]bool, len(targets))
	var planned []catchUp
	for _, t := range targets {
		if seen[t.ID] {
			continue // one check per unique target, however many links share it
		}
		seen[t.ID] = true
		e := &entry{target: t, offset: checker.Offset(t.ID, every), running: new(atomic.Bool)}
		if o, ok := old[t.ID]; ok {
			e.running = o.running
		} else if at, ok := catchUpAt(now, since, e.offset, every); ok {
			planned = append(planned, catchUp{e: e, at: at})
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, compareEntries)
	s.entries = entries
	if len(planned) > 0 {
		s.opts.Log.Info("scheduler: targets handed over after a slot of theirs was missed; checking them at once",
			"targets", len(planned), "unchecked_since", since)
	}
	// The catch-ups still to come of the targets kept, on their new
	// entries; a target given away is not caught up here.
	if len(s.catchUps) > 0 {
		byID := make(map[string]*entry, len(entries))
		for _, e := range entries {
			byID[e.target.ID] = e
		}
		for _, c := range s.catchUps {
			if _, kept := old[c.e.target.ID]; kept && byID[c.e.target.ID] != nil {
				planned = append(planned, catchUp{e: byID[c.e.target.ID], at: c.at})
			}
		}
	}
	slices.SortFunc(planned, func(a, b catchUp) int { return a.at.Compare(b.at) })
	s.catchUps = planned
	for _, ch := range []chan struct{}{s.changed, s.caught} {
		select {
		case ch <- struct{}{}:
		default: // a change is already pending, or (in New) nobody waits yet
		}
	}
}

// catchUpAt says whether a target of this offset, handed over now by
// replicas that stopped checking it by since, missed its last slot, and
// when to check it: now, plus a tenth of its offset (the catch-ups of many
// targets spread over a tenth of an interval, in slot order), but no later
// than catchUpLatest after the slot missed.
func catchUpAt(now, since time.Time, offset, every time.Duration) (time.Time, bool) {
	if since.IsZero() {
		return time.Time{}, false
	}
	slot := now.Truncate(every).Add(offset)
	if slot.After(now) {
		slot = slot.Add(-every)
	}
	if !slot.After(since) {
		return time.Time{}, false // checked there by its previous owner
	}
	latest := slot.Add(catchUpLatest(every))
	at := now.Add(offset / 10)
	if at.After(latest) {
		at = latest
	}
	if at.Before(now) {
		return time.Time{}, false // too close to its next slot: checked there
	}
	return at, true
}

// compareEntries orders entries by slot, then id: a total order, so a
// cycle can find where it stands in a list replaced meanwhile.
func compareEntries(a, b *entry) int {
	return cmp.Or(cmp.Compare(a.offset, b.offset), strings.Compare(a.target.ID, b.target.ID))
}

// nextAfter returns the entry of the current list that follows last in
// slot order (the first when last is nil), or nil at the end.
func (s *Scheduler) nextAfter(last *entry) *entry {
	entries := s.snapshot()
	i := 0
	if last != nil {
		var found bool
		i, found = slices.BinarySearchFunc(entries, last, compareEntries)
		if found {
			i++
		}
	}
	if i >= len(entries) {
		return nil
	}
	return entries[i]
}

// holds reports whether the current list has e's target at e's slot.
func (s *Scheduler) holds(e *entry) bool {
	_, found := slices.BinarySearchFunc(s.snapshot(), e, compareEntries)
	return found
}

func (s *Scheduler) snapshot() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries
}

// Stats is the scheduler's health, for metrics and the bench.
type Stats struct {
	Targets int
	Checks  int64 // checks started
	Skipped int64 // due while the previous check of the same target still ran
	// BackedOff counts the checks started but not made: their host had
	// asked for a back-off (429 Retry-After). Their results are not
	// reported.
	BackedOff int64
	// CaughtUp counts the checks made out of their slot: of targets
	// handed over after their slot was missed (HandOver).
	CaughtUp int64
	LagP50   time.Duration
	LagP99   time.Duration
	LagMax   time.Duration // over the recent window
}

// Stats returns counters and recent lag quantiles (actual start minus
// planned start).
func (s *Scheduler) Stats() Stats {
	p50, p99, max := s.lag.quantiles()
	return Stats{Targets: len(s.snapshot()), Checks: s.checks.Load(), Skipped: s.skipped.Load(), BackedOff: s.backedOff.Load(),
		CaughtUp: s.caughtUp.Load(), LagP50: p50, LagP99: p99, LagMax: max}
}

type job struct {
	e       *entry
	planned time.Time
}

// Run checks targets until ctx ends, then waits for the checks in flight.
// Results of checks cut short by the shutdown are not reported.
func (s *Scheduler) Run(ctx context.Context) {
	jobs := make(chan job, s.opts.Workers)
	wait := s.startWorkers(ctx, jobs)
	var catching sync.WaitGroup
	catching.Go(func() { s.runCatchUps(ctx, jobs) })
	s.runCycles(ctx, jobs, -1)
	catching.Wait()
	close(jobs)
	wait()
}

// runCatchUps dispatches the catch-ups (HandOver) at their time until ctx
// ends: each of a target still held, and not being checked already.
func (s *Scheduler) runCatchUps(ctx context.Context, jobs chan<- job) {
	for {
		s.mu.Lock()
		now := s.opts.Now()
		i := 0
		for i < len(s.catchUps) && !s.catchUps[i].at.After(now) {
			i++
		}
		// set replaces s.catchUps with a new slice, never writes into
		// this one: due stays as it is.
		due := s.catchUps[:i:i]
		s.catchUps = s.catchUps[i:]
		wait := time.Duration(-1) // nothing to come: until a hand-over
		if len(s.catchUps) > 0 {
			wait = s.catchUps[0].at.Sub(now)
		}
		s.mu.Unlock()
		for _, c := range due {
			if !s.holds(c.e) {
				continue
			}
			if !c.e.running.CompareAndSwap(false, true) {
				s.skipped.Add(1)
				continue
			}
			s.caughtUp.Add(1)
			select {
			case jobs <- job{e: c.e, planned: c.at}:
			case <-ctx.Done():
				c.e.running.Store(false)
				return
			}
		}
		if len(due) > 0 {
			continue // the time moved while they were dispatched
		}
		var timer *time.Timer
		var timeUp <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			timeUp = timer.C
		}
		select {
		case <-timeUp:
		case <-s.caught:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (s *Scheduler) startWorkers(ctx context.Context, jobs <-chan job) (wait func()) {
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				s.lag.add(s.opts.Now().Sub(j.planned))
				s.checks.Add(1)
				r := s.prober.Check(ctx, j.e.target)
				j.e.running.Store(false)
				if ctx.Err() != nil {
					continue
				}
				if r.Skipped() {
					s.backedOff.Add(1)
					s.opts.Log.Debug("check not made: its host asked for a back-off", "target", r.TargetID, "until", r.SkippedUntil)
					continue
				}
				s.opts.OnResult(r)
			}
		})
	}
	return wg.Wait
}

// runCycles dispatches n intervals' worth of checks (forever if n < 0).
//
// The intervals are laid on the clock Now, which may be set: an NTP step,
// or, in serve, the database's clock learnt when the database first
// answers after a start without it. This process's own monotonic clock,
// which nothing sets, tells a step from the time passing: when the clock
// moved more than an interval away from it, the intervals are laid again
// from now, as at the start, so a step back is not a pause as long as the
// step, nor a step forward a burst of every check it skipped.
func (s *Scheduler) runCycles(ctx context.Context, jobs chan<- job, n int) {
	every := s.opts.Interval
	var begin, mono, cycle time.Time
	lay := func() {
		begin, mono = s.opts.Now(), time.Now()
		cycle = begin.Truncate(every)
	}
	stepped := func() bool {
		step := s.opts.Now().Sub(begin) - time.Since(mono)
		if step > every || step < -every {
			s.opts.Log.Info("scheduler: the clock was set; intervals laid again from now", "step", step.Round(time.Millisecond))
			lay()
			return true
		}
		return false
	}
	lay()
cycles:
	for i := 0; n < 0 || i < n; i++ {
		end := cycle.Add(every)
		// Each step takes the entry after the last one dispatched from the
		// list as it is now, not as it was when the interval began, and a
		// change to the list wakes the wait: a target gained mid-interval
		// (another replica's host handed over) is checked at its slot in
		// this interval when that is still ahead, even when the list was
		// exhausted (a replica that owned nothing until now) or the slot
		// comes before the one waited for.
		var last, waiting *entry
		var afterChange bool
		for {
			e := s.nextAfter(last)
			if e == nil {
				// Every slot of this interval is dispatched. The next
				// interval starts at its time, not at once: with no target
				// due (none at all, as a replica may own none for a while),
				// the loop would otherwise run ahead of the clock.
				switch s.wait(ctx, end.Sub(s.opts.Now())) {
				case woken:
					afterChange, waiting = true, nil
					continue
				case cancelled:
					return
				}
				break
			}
			planned := cycle.Add(e.offset)
			if planned.Before(begin) {
				// Started mid-interval: a target whose slot has passed waits
				// for its slot in the next interval. Checking them all at once
				// would be a burst of up to every target at startup.
				last = e
				continue
			}
			if afterChange && (waiting == nil || e.target.ID != waiting.target.ID) && planned.Before(s.opts.Now()) {
				// Gained after its slot in this interval had passed: the
				// replica that gave it away checked it there; from the next
				// interval on. (The entry waited for is checked, however
				// late the change woke us; SetTargets makes new entries,
				// so it is known by its target.)
				last = e
				continue
			}
			if stepped() {
				continue cycles
			}
			waiting = e
			switch s.wait(ctx, planned.Sub(s.opts.Now())) {
			case woken:
				afterChange = true
				continue
			case cancelled:
				return
			}
			afterChange, waiting, last = false, nil, e
			if !s.holds(e) {
				// Given away while waiting for its slot (its host moved to
				// another replica, which checks it at this slot).
				continue
			}
			if !e.running.CompareAndSwap(false, true) {
				s.skipped.Add(1)
				s.opts.Log.Debug("check skipped: previous still running", "target", e.target.ID)
				continue
			}
			select {
			case jobs <- job{e: e, planned: planned}:
			case <-ctx.Done():
				e.running.Store(false)
				return
			}
		}
		cycle = end
		stepped()
	}
}

// woke says why wait returned.
type woke int

const (
	timeUp    woke = iota
	woken          // the target list changed
	cancelled      // ctx ended
)

// wait waits for d (nothing under a millisecond) or a change of the target
// list, whichever comes first.
func (s *Scheduler) wait(ctx context.Context, d time.Duration) woke {
	if ctx.Err() != nil {
		return cancelled
	}
	if d <= time.Millisecond {
		return timeUp
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return timeUp
	case <-s.changed:
		return woken
	case <-ctx.Done():
		return cancelled
	}
}

// RunOnce checks every target once, concurrently with at most workers in
// flight, and returns the results in target order. It is the `check` command.
func RunOnce(ctx context.Context, p Prober, targets []linkwatch.Target, workers int) []linkwatch.Result {
	if workers <= 0 {
		workers = 32
	}
	out := make([]linkwatch.Result, len(targets))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, t := range targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = p.Check(ctx, t)
		})
	}
	wg.Wait()
	return out
}

// lagWindow keeps the most recent lag samples for quantiles.
type lagWindow struct {
	mu      sync.Mutex
	samples [4096]time.Duration
	n       int // total added
}

func (w *lagWindow) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	w.mu.Lock()
	w.samples[w.n%len(w.samples)] = d
	w.n++
	w.mu.Unlock()
}

func (w *lagWindow) quantiles() (p50, p99, max time.Duration) {
	w.mu.Lock()
	n := min(w.n, len(w.samples))
	s := slices.Clone(w.samples[:n])
	w.mu.Unlock()
	if n == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	return s[n*50/100], s[min(n-1, n*99/100)], s[n-1]
}
