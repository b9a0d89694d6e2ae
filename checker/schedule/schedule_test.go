package schedule

import (
	"linkwatch"
	"linkwatch/checker"

	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The scheduler's tests run in a synctest bubble: time moves only once
// every goroutine of the test waits, so intervals pass instantly and the
// planned start of every check is exact. The bubble's clock starts at
// midnight, the start of an interval.

// recordingProber records when each target was checked; targets listed in
// block wait for release.
type recordingProber struct {
	mu      sync.Mutex
	starts  map[string][]time.Time
	block   map[string]bool
	release chan struct{}
}

func (p *recordingProber) Check(ctx context.Context, t linkwatch.Target) linkwatch.Result {
	now := time.Now()
	p.mu.Lock()
	p.starts[t.ID] = append(p.starts[t.ID], now)
	blocked := p.block[t.ID]
	p.mu.Unlock()
	if blocked {
		select {
		case <-p.release:
		case <-ctx.Done():
		}
	}
	return linkwatch.Result{TargetID: t.ID, Start: now, Status: linkwatch.StatusUp}
}

func targetsN(n int) []linkwatch.Target {
	ts := make([]linkwatch.Target, n)
	for i := range ts {
		ts[i] = linkwatch.Target{ID: fmt.Sprintf("https://host%d.test/page", i), Kind: linkwatch.TargetDestination}
	}
	return ts
}

// dispatched runs n intervals of the scheduler and returns each target's
// planned starts. It plays the worker pool itself, finishing every check at
// once except those of the targets in stuck, so the result is exact.
func dispatched(t *testing.T, s *Scheduler, n int, stuck map[string]bool) map[string][]time.Time {
	t.Helper()
	jobs := make(chan job)
	got := map[string][]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for j := range jobs {
			got[j.e.target.ID] = append(got[j.e.target.ID], j.planned)
			if !stuck[j.e.target.ID] {
				j.e.running.Store(false)
			}
		}
	}()
	s.runCycles(context.Background(), jobs, n)
	close(jobs)
	<-done
	return got
}

func TestSchedulerSpreadsTargetsOverTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		targets := targetsN(1000)
		// A duplicate target ID is checked once per interval, not twice.
		targets = append(targets, targets[0])
		s := New(nil, targets, Options{Interval: interval})
		starts := dispatched(t, s, 3, nil)
		if len(starts) != 1000 {
			t.Fatalf("%d targets dispatched, want 1000", len(starts))
		}
		var perSecond [10]int
		for id, st := range starts {
			if len(st) != 3 {
				t.Fatalf("%s checked %d times in 3 intervals, want 3", id, len(st))
			}
			// The same offset every interval.
			for i := 1; i < len(st); i++ {
				if got := st[i].Sub(st[i-1]); got != interval {
					t.Errorf("%s: %v between checks, want %v", id, got, interval)
				}
			}
			perSecond[st[1].Sub(st[1].Truncate(interval))/time.Second]++
		}
		// 1000 targets over 10 one-second slots: each slot near 100, none empty
		// or holding a burst.
		for sec, n := range perSecond {
			if n < 60 || n > 140 {
				t.Errorf("second %d of the interval starts %d checks; want about 100 (spread: %v)", sec, n, perSecond)
			}
		}
		if st := s.Stats(); st.Targets != 1000 || st.Skipped != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestSchedulerSkipsTargetStillRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		targets := targetsN(5)
		slow := targets[2].ID
		s := New(nil, targets, Options{Interval: 10 * time.Second})
		starts := dispatched(t, s, 4, map[string]bool{slow: true})
		for _, tg := range targets {
			want := 4
			if tg.ID == slow {
				want = 1 // its first check never finished: the next three are skipped
			}
			if got := len(starts[tg.ID]); got != want {
				t.Errorf("%s checked %d times, want %d", tg.ID, got, want)
			}
		}
		if st := s.Stats(); st.Skipped != 3 {
			t.Errorf("skipped = %d, want 3", st.Skipped)
		}
	})
}

func TestSchedulerWorkersReportResultsAndLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &recordingProber{starts: map[string][]time.Time{}}
		var mu sync.Mutex
		var results []linkwatch.Result
		s := New(p, targetsN(20), Options{Workers: 4, OnResult: func(r linkwatch.Result) {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}})
		jobs := make(chan job)
		wait := s.startWorkers(context.Background(), jobs)
		planned := time.Now().Add(-250 * time.Millisecond)
		for _, e := range s.snapshot() {
			e.running.Store(true)
			jobs <- job{e: e, planned: planned}
		}
		close(jobs)
		wait()
		if len(results) != 20 {
			t.Errorf("%d results reported, want 20", len(results))
		}
		for _, e := range s.snapshot() {
			if e.running.Load() {
				t.Errorf("%s still marked running after its check", e.target.ID)
			}
		}
		if st := s.Stats(); st.Checks != 20 || st.LagP50 != 250*time.Millisecond || st.LagP99 != 250*time.Millisecond {
			t.Errorf("stats = %+v, want 20 checks with 250ms lag", st)
		}
	})
}

// skippingProber answers every check of the targets in skip as the
// checker does while their host backs off: not made.
type skippingProber struct {
	skip  map[string]bool
	until time.Time
}

func (p skippingProber) Check(_ context.Context, t linkwatch.Target) linkwatch.Result {
	if p.skip[t.ID] {
		return linkwatch.Result{TargetID: t.ID, Status: linkwatch.StatusSkipped, Cause: linkwatch.CauseRateLimited, SkippedUntil: p.until}
	}
	return linkwatch.Result{TargetID: t.ID, Status: linkwatch.StatusUp}
}

// A check the checker did not make (its host asked for a back-off) is not
// a result: passed on, it would count against the target (a failure
// streak, a minute of downtime) or for it, though nothing was seen. It is
// counted, and the target stays free for its next check.
func TestSchedulerDoesNotReportChecksNotMade(t *testing.T) {
	targets := targetsN(6)
	p := skippingProber{skip: map[string]bool{targets[1].ID: true, targets[4].ID: true}, until: time.Date(2026, 11, 22, 12, 1, 0, 0, time.UTC)}
	var reported []string
	s := New(p, targets, Options{Workers: 1, OnResult: func(r linkwatch.Result) { reported = append(reported, r.TargetID) }})
	jobs := make(chan job)
	wait := s.startWorkers(context.Background(), jobs)
	for _, e := range s.snapshot() {
		e.running.Store(true)
		jobs <- job{e: e, planned: time.Now()}
	}
	close(jobs)
	wait()
	if len(reported) != 4 || slices.Contains(reported, targets[1].ID) || slices.Contains(reported, targets[4].ID) {
		t.Errorf("reported %v, want the 4 checks made", reported)
	}
	if st := s.Stats(); st.Checks != 6 || st.BackedOff != 2 || st.Skipped != 0 {
		t.Errorf("stats = %+v, want 6 checks started, 2 of them not made", st)
	}
	for _, e := range s.snapshot() {
		if e.running.Load() {
			t.Errorf("%s still marked running", e.target.ID)
		}
	}
}

func TestSchedulerSetTargetsKeepsRunningState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		targets := targetsN(2)
		s := New(&recordingProber{starts: map[string][]time.Time{}}, targets, Options{})
		s.snapshot()[0].running.Store(true)
		id := s.snapshot()[0].target.ID
		s.SetTargets(append(targetsN(3), linkwatch.Target{ID: "https://new.test/"}))
		for _, e := range s.snapshot() {
			if e.target.ID == id && !e.running.Load() {
				t.Error("a reload forgot that a target's check is in flight")
			}
		}
		if n := len(s.snapshot()); n != 4 {
			t.Errorf("%d targets after reload, want 4", n)
		}
	})
}

func TestSchedulerRunStopsAndDropsCancelledResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &recordingProber{starts: map[string][]time.Time{}, block: map[string]bool{}, release: make(chan struct{})}
		targets := targetsN(3)
		for _, tg := range targets {
			p.block[tg.ID] = true
		}
		var mu sync.Mutex
		var reported int
		s := New(p, targets, Options{Workers: 3, OnResult: func(linkwatch.Result) { mu.Lock(); reported++; mu.Unlock() }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		for {
			p.mu.Lock()
			n := len(p.starts)
			p.mu.Unlock()
			if n == 3 {
				break
			}
			time.Sleep(time.Millisecond) // the bubble's clock
		}
		cancel()
		<-done
		if reported != 0 {
			t.Errorf("%d results of cancelled checks were reported", reported)
		}
	})
}

func TestOffsetIsStableAndWithinInterval(t *testing.T) {
	for _, id := range []string{"", "a", "https://go.dev/", "self:/ada/go"} {
		o := checker.Offset(id, 10*time.Second)
		if o < 0 || o >= 10*time.Second || o != checker.Offset(id, 10*time.Second) {
			t.Errorf("Offset(%q) = %v", id, o)
		}
	}
}

func TestRunOnceKeepsOrder(t *testing.T) {
	targets := targetsN(50)
	res := RunOnce(context.Background(), &recordingProber{starts: map[string][]time.Time{}}, targets, 4)
	for i, r := range res {
		if r.TargetID != targets[i].ID {
			t.Fatalf("result %d is for %s, want %s", i, r.TargetID, targets[i].ID)
		}
	}
}

// TestSchedulerWithNoTargetsKeepsTime: a scheduler with nothing to check
// (a replica owning no host for a while) waits out its intervals instead of
// running ahead of the clock, and checks targets given to it later at
// their slot. In a synctest bubble, so no real time is measured, and time
// moves only once every goroutine of the test waits: the fake worker of
// dispatched has finished a check (cleared its running mark) before the
// scheduler's next wait returns, as with real checks that take no time.
// (Moving a fake clock at each wait raced that worker.) A loop running
// ahead would be done before the target comes, and would check it never.
func TestSchedulerWithNoTargetsKeepsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		cycle := time.Now().Truncate(interval) // the bubble's clock
		target := targetsN(1)
		s := New(nil, nil, Options{Interval: interval})
		added := make(chan struct{})
		go func() {
			defer close(added)
			time.Sleep(time.Until(cycle.Add(2*interval + interval/2))) // the bubble's clock
			s.SetTargets(target)
		}()
		starts := dispatched(t, s, 5, nil)[target[0].ID]
		<-added
		// The idle cycles waited their turn: the target, come at 25 s, is
		// checked at its slot of the next interval and the one after, no
		// later and not at once.
		off := checker.Offset(target[0].ID, interval)
		want := []time.Time{cycle.Add(3*interval + off), cycle.Add(4*interval + off)}
		if fmt.Sprint(starts) != fmt.Sprint(want) {
			t.Errorf("checked at %v; want %v", starts, want)
		}
	})
}

// TestSchedulerWithNoTargetsStops: Run with nothing to check returns when
// told.
func TestSchedulerWithNoTargetsStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(&recordingProber{starts: map[string][]time.Time{}}, nil, Options{Interval: 50 * time.Millisecond, Workers: 2})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		time.Sleep(120 * time.Millisecond) // the bubble's clock
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
}

// TestSchedulerChecksGainedTargetInThisInterval: a target gained
// mid-interval (a replica that left hands its hosts over) whose slot is
// still ahead in this interval is checked at that slot, not an interval
// later: the replica that gave it away checked it at most one interval
// ago, and waiting for the next interval could leave it unchecked for up
// to three. A target whose slot has passed waits for the next interval,
// and one kept across the change is not checked twice.
func TestSchedulerChecksGainedTargetInThisInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		start := time.Now() // the bubble's clock: the start of an interval
		all := targetsN(200)
		// kept is checked from the start; gained comes later in the interval,
		// late after it.
		var kept, gained, late linkwatch.Target
		offset := func(tg linkwatch.Target) time.Duration { return checker.Offset(tg.ID, interval) }
		for _, tg := range all {
			switch o := offset(tg); {
			case kept.ID == "" && o > 2*time.Second && o < 3*time.Second:
				kept = tg
			case gained.ID == "" && o > 6*time.Second && o < 7*time.Second:
				gained = tg
			case late.ID == "" && o < time.Second:
				late = tg
			}
		}
		if kept.ID == "" || gained.ID == "" || late.ID == "" {
			t.Fatal("no targets with the offsets this test needs")
		}
		s := New(nil, []linkwatch.Target{kept}, Options{Interval: interval})
		// At kept's slot, while the scheduler waits for it, the replica
		// gains gained (slot ahead) and late (slot passed), and keeps kept.
		changed := make(chan struct{})
		go func() {
			defer close(changed)
			time.Sleep(time.Until(start.Add(offset(kept))) - time.Nanosecond) // the bubble's clock
			s.SetTargets([]linkwatch.Target{kept, gained, late})
		}()
		starts := dispatched(t, s, 2, nil)
		<-changed
		want := map[string][]time.Time{
			kept.ID:   {start.Add(offset(kept)), start.Add(interval + offset(kept))},
			gained.ID: {start.Add(offset(gained)), start.Add(interval + offset(gained))},
			late.ID:   {start.Add(interval + offset(late))},
		}
		for id, w := range want {
			if got := starts[id]; fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("%s checked at %v, want %v", id, got, w)
			}
		}
	})
}

// TestSchedulerFollowsASetClock: the clock the intervals are laid on is
// set back five minutes, then forward ten (serve's is the database's,
// learnt when the database first answers): checks go on once an interval,
// with neither a pause as long as the step back nor a burst of the checks
// the step forward skipped.
func TestSchedulerFollowsASetClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		var offset atomic.Int64
		s := New(nil, targetsN(50), Options{Interval: interval, Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		var mu sync.Mutex
		sent := map[string][]time.Time{} // by target: when dispatched, by the bubble's own clock
		jobs := make(chan job)
		go func() {
			for j := range jobs {
				mu.Lock()
				sent[j.e.target.ID] = append(sent[j.e.target.ID], time.Now())
				mu.Unlock()
				j.e.running.Store(false)
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.runCycles(ctx, jobs, -1); close(done) }()
		phase := func(what string, step time.Duration) {
			t.Helper()
			offset.Add(int64(step))
			from := time.Now()
			time.Sleep(6 * interval) // the bubble's clock
			mu.Lock()
			defer mu.Unlock()
			for id, at := range sent {
				var n int
				for _, a := range at {
					if !a.Before(from.Add(interval)) { // the interval of the step aside
						n++
					}
				}
				if n != 5 {
					t.Errorf("%s: %s checked %d times in the 5 intervals after the step, want 5", what, id, n)
				}
			}
		}
		phase("steady", 0)
		phase("set back 5 minutes", -5*time.Minute)
		phase("set forward 10 minutes", 10*time.Minute)
		cancel()
		<-done
		close(jobs)
	})
}

// TestSchedulerDropsTargetGivenAwayBeforeItsSlot: a target given away
// (its host handed to another replica) while the scheduler waits for its
// slot is not checked here at that slot: the replica it went to checks it
// then, and two checks of one host at one instant are what the split
// exists to prevent.
func TestSchedulerDropsTargetGivenAwayBeforeItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		start := time.Now()
		var kept, given linkwatch.Target
		offset := func(tg linkwatch.Target) time.Duration { return checker.Offset(tg.ID, interval) }
		for _, tg := range targetsN(200) {
			switch o := offset(tg); {
			case kept.ID == "" && o > time.Second && o < 2*time.Second:
				kept = tg
			case given.ID == "" && o > 6*time.Second && o < 7*time.Second:
				given = tg
			}
		}
		if kept.ID == "" || given.ID == "" {
			t.Fatal("no targets with the offsets this test needs")
		}
		s := New(nil, []linkwatch.Target{kept, given}, Options{Interval: interval})
		changed := make(chan struct{})
		go func() {
			defer close(changed)
			time.Sleep(time.Until(start.Add(offset(given))) - time.Nanosecond) // the bubble's clock
			s.SetTargets([]linkwatch.Target{kept})
		}()
		starts := dispatched(t, s, 2, nil)
		<-changed
		if got := starts[given.ID]; len(got) != 0 {
			t.Errorf("%s, given away a moment before its slot, checked at %v", given.ID, got)
		}
		if got := starts[kept.ID]; len(got) != 2 {
			t.Errorf("%s checked %d times in 2 intervals, want 2", kept.ID, len(got))
		}
	})
}

// TestSchedulerChecksTargetsGainedOutOfOrder: the list changes where the
// cycle does not look: after its last slot (a replica that owned nothing,
// or had dispatched all it owned, gains a dead replica's hosts), and while
// it waits for a slot later than the gained target's. Each gained target
// whose slot is still ahead is checked there in this interval; one whose
// slot has passed waits for the next interval (its former owner checked it
// there); the slot waited for is kept.
func TestSchedulerChecksTargetsGainedOutOfOrder(t *testing.T) {
	const interval = 10 * time.Second
	offset := func(tg linkwatch.Target) time.Duration { return checker.Offset(tg.ID, interval) }
	pick := func(from, to time.Duration, not ...linkwatch.Target) linkwatch.Target {
		t.Helper()
	next:
		for _, tg := range targetsN(400) {
			for _, n := range not {
				if n.ID == tg.ID {
					continue next
				}
			}
			if o := offset(tg); o > from && o < to {
				return tg
			}
		}
		t.Fatalf("no target with a slot in (%v, %v)", from, to)
		return linkwatch.Target{}
	}
	early := pick(time.Second, 2*time.Second)
	passed := pick(2*time.Second, 3*time.Second)
	middle := pick(5*time.Second, 6*time.Second)
	far := pick(8*time.Second, 9*time.Second)
	for _, tc := range []struct {
		name         string
		before       []linkwatch.Target
		at           time.Duration
		after        []linkwatch.Target
		thisInterval []linkwatch.Target // checked at their slot in the first interval
		nextOnly     []linkwatch.Target // first checked in the second interval
	}{
		{"a replica that owned nothing", nil, 4 * time.Second,
			[]linkwatch.Target{passed, middle, far}, []linkwatch.Target{middle, far}, []linkwatch.Target{passed}},
		{"after its last slot", []linkwatch.Target{early}, 4 * time.Second,
			[]linkwatch.Target{early, passed, middle}, []linkwatch.Target{early, middle}, []linkwatch.Target{passed}},
		{"before the slot waited for", []linkwatch.Target{early, far}, 4 * time.Second,
			[]linkwatch.Target{early, passed, middle, far}, []linkwatch.Target{early, middle, far}, []linkwatch.Target{passed}},
		{"at the slot waited for", []linkwatch.Target{far}, offset(far),
			[]linkwatch.Target{passed, middle, far}, []linkwatch.Target{far}, []linkwatch.Target{passed, middle}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				s := New(nil, tc.before, Options{Interval: interval})
				changed := make(chan struct{})
				go func() {
					defer close(changed)
					time.Sleep(tc.at)
					s.SetTargets(tc.after)
				}()
				starts := dispatched(t, s, 2, nil)
				<-changed
				for _, tg := range tc.thisInterval {
					want := fmt.Sprint([]time.Time{start.Add(offset(tg)), start.Add(interval + offset(tg))})
					if got := fmt.Sprint(starts[tg.ID]); got != want {
						t.Errorf("%s (slot %v) checked at %v, want %v", tg.ID, offset(tg), got, want)
					}
				}
				for _, tg := range tc.nextOnly {
					want := fmt.Sprint([]time.Time{start.Add(interval + offset(tg))})
					if got := fmt.Sprint(starts[tg.ID]); got != want {
						t.Errorf("%s (slot %v) checked at %v, want %v", tg.ID, offset(tg), got, want)
					}
				}
			})
		})
	}
}
