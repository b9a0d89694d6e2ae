package schedule

import (
	"linkwatch/checker"

	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestHandOverCatchesUpMissedSlots: the unlucky order of the chaos run. A
// joiner takes its hosts a beat after the old owner gave them away, so the
// slots in between are missed (their targets last checked more than an
// interval ago), and it is killed before their next slots, which its
// survivor checks only at the slot after: 3 intervals without a check, on
// the old code. Handed over with the time the old owner stopped, the
// joiner checks those targets at once, and every gap stays within 2
// intervals. A target whose slot came before the old owner stopped was
// checked there (less than an interval ago), and gets no extra check: no
// two checks of any target come within half an interval.
func TestHandOverCatchesUpMissedSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		const beat = interval / 3
		start := time.Now() // the start of an interval
		targets := targetsN(300)
		p := &recordingProber{starts: map[string][]time.Time{}}
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		old := New(p, targets, Options{Interval: interval})
		joiner := New(p, nil, Options{Interval: interval})
		joinerCtx, kill := context.WithCancel(ctx)
		done := make(chan struct{}, 2)
		go func() { old.Run(ctx); done <- struct{}{} }()
		go func() { joiner.Run(joinerCtx); done <- struct{}{} }()

		released := start.Add(2*interval + 4*time.Second)
		took := released.Add(beat)
		killed := took.Add(interval * 8 / 10)
		time.Sleep(time.Until(released))
		old.SetTargets(nil) // at its heartbeat, it counts the joiner
		time.Sleep(time.Until(took))
		joiner.HandOver(targets, released)
		time.Sleep(time.Until(killed))
		kill()
		time.Sleep(beat) // the survivor learns of the death at its next heartbeat
		old.SetTargets(targets)
		time.Sleep(3 * interval)
		stop()
		<-done
		<-done

		end := time.Now()
		var missed, checkedBefore int
		for _, tg := range targets {
			offset := checker.Offset(tg.ID, interval)
			slot := took.Truncate(interval).Add(offset)
			if slot.After(took) {
				slot = slot.Add(-interval)
			}
			got := slices.Clone(p.starts[tg.ID])
			slices.SortFunc(got, time.Time.Compare)
			last := start.Add(interval) // every target is checked in the first interval
			for i, at := range got {
				if i > 0 && at.Sub(got[i-1]) < interval/2 {
					t.Errorf("%s (slot %v) checked at %v and %v: a double check", tg.ID, offset, got[i-1].Sub(start), at.Sub(start))
				}
				if at.Sub(last) > 2*interval {
					t.Errorf("%s (slot %v) unchecked from %v to %v: more than 2 intervals", tg.ID, offset, last.Sub(start), at.Sub(start))
				}
				if at.After(last) {
					last = at
				}
			}
			if end.Sub(last) > interval {
				t.Errorf("%s (slot %v) last checked at %v of %v", tg.ID, offset, last.Sub(start), end.Sub(start))
			}
			// The joiner's checks: a catch-up is any out of the slot.
			var catchUps int
			for _, at := range got {
				// (A check starts up to a millisecond before its slot:
				// the scheduler waits for nothing shorter.)
				if d := at.Sub(start)%interval - offset; at.After(took) && !at.After(killed) && (d < -time.Millisecond || d > time.Millisecond) {
					catchUps++
				}
			}
			switch {
			case slot.After(released) && took.Sub(slot) <= catchUpLatest(interval):
				missed++
				if catchUps != 1 {
					t.Errorf("%s (slot %v, missed at %v) caught up %d times, want once: %v", tg.ID, offset, slot.Sub(start), catchUps, got)
				}
			case !slot.After(released):
				checkedBefore++
				fallthrough
			default:
				if catchUps != 0 {
					t.Errorf("%s (slot %v, last at %v) caught up %d times, want none: %v", tg.ID, offset, slot.Sub(start), catchUps, got)
				}
			}
		}
		if missed == 0 || checkedBefore == 0 {
			t.Fatalf("%d targets missed a slot, %d did not: want some of each", missed, checkedBefore)
		}
		if st := joiner.Stats(); st.CaughtUp != int64(missed) {
			t.Errorf("the joiner's stats count %d catch-ups, want %d", st.CaughtUp, missed)
		}
	})
}

// TestHandOverCatchUpStaysClearOfTheNextSlot: a catch-up comes at once,
// spread over a tenth of an interval, but never later than 0.4 intervals
// after the slot missed, so never within half an interval of the next
// slot; a target whose missed slot is older than that waits for its next
// slot; one whose last slot came before the hand-over's since is not
// caught up; a plain SetTargets catches up nothing.
func TestHandOverCatchUpStaysClearOfTheNextSlot(t *testing.T) {
	const every = 10 * time.Second
	now := time.Date(2026, 12, 7, 12, 0, 25, 0, time.UTC) // 5 s into an interval
	since := now.Add(-4500 * time.Millisecond)
	for _, tc := range []struct {
		offset time.Duration
		want   time.Duration // after now; -1 for no catch-up
	}{
		{offset: 4 * time.Second, want: 400 * time.Millisecond},        // missed 1 s ago: now + offset/10
		{offset: 5 * time.Second, want: 500 * time.Millisecond},        // its slot is now: missed
		{offset: 1050 * time.Millisecond, want: 50 * time.Millisecond}, // missed 3.95 s ago: no later than 0.4 intervals after it
		{offset: 800 * time.Millisecond, want: -1},                     // missed 4.2 s ago: its next slot, 5.8 s ahead, comes first
		{offset: 501 * time.Millisecond, want: -1},                     // missed just after since: likewise
		{offset: 500 * time.Millisecond, want: -1},                     // its slot was since: its old owner checked it
		{offset: 9 * time.Second, want: -1},                            // its last slot, 6 s ago, came before since
		{offset: 5*time.Second + time.Millisecond, want: -1},           // its slot is ahead in this interval: checked there
	} {
		at, ok := catchUpAt(now, since, tc.offset, every)
		switch {
		case tc.want < 0 && ok:
			t.Errorf("offset %v: caught up at now+%v, want not", tc.offset, at.Sub(now))
		case tc.want >= 0 && (!ok || !at.Equal(now.Add(tc.want))):
			t.Errorf("offset %v: caught up %v at now+%v, want at now+%v", tc.offset, ok, at.Sub(now), tc.want)
		}
		if ok {
			slot := now.Truncate(every).Add(tc.offset)
			if slot.After(now) {
				slot = slot.Add(-every)
			}
			if next := slot.Add(every); next.Sub(at) <= every/2 {
				t.Errorf("offset %v: caught up %v before its next slot: within half an interval", tc.offset, next.Sub(at))
			}
		}
	}
	if _, ok := catchUpAt(now, time.Time{}, 4*time.Second, every); ok {
		t.Error("caught up without a since (SetTargets)")
	}
}
