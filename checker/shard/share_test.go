package shard

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"linkwatch"
)

// pausingScheduler records the target lists it is given; the first call
// waits until released, as a scheduler busy for a moment would.
type pausingScheduler struct {
	entered chan struct{} // closed when the first call has begun
	release chan struct{}
	once    sync.Once

	mu   sync.Mutex
	last []linkwatch.Target
}

func (s *pausingScheduler) SetTargets(ts []linkwatch.Target) {
	first := false
	s.once.Do(func() { first = true; close(s.entered) })
	if first {
		<-s.release
	}
	s.mu.Lock()
	s.last = ts
	s.mu.Unlock()
}

func (s *pausingScheduler) HandOver(ts []linkwatch.Target, _ time.Time) { s.SetTargets(ts) }

type nopOwnership struct{}

func (nopOwnership) SetOwnership(func(string) bool) {}

// TestShareReloadRacingMembershipChange: a reload (SIGHUP) and a
// membership change arrive at once. Whichever order their updates reach
// the scheduler in, it ends with the reloaded targets split by the new
// membership, not a list computed from the old one: that would stand
// until the next change, with hosts no replica checks.
func TestShareReloadRacingMembershipChange(t *testing.T) {
	t.Parallel()
	var all []linkwatch.Target
	for i := range 40 {
		u := fmt.Sprintf("https://h%d.test/", i)
		all = append(all, linkwatch.Target{ID: u, URL: u, Kind: linkwatch.TargetDestination})
	}
	sched := &pausingScheduler{entered: make(chan struct{}), release: make(chan struct{})}
	p := NewShare(sched, nopOwnership{}, nil, Alone("a"))
	reloaded := make(chan struct{})
	go func() { p.SetTargets(all); close(reloaded) }()
	<-sched.entered // the reload computed its list (everything: a is alone) and is applying it
	two := Assignment{Self: "a", Members: []string{"a", "b"}}
	changed := make(chan struct{})
	go func() { p.SetAssignment(two); close(changed) }()
	select {
	case <-changed: // applied while the reload was still applying its own
	case <-time.After(100 * time.Millisecond): // or waiting for it
	}
	close(sched.release)
	<-reloaded
	<-changed
	want := two.Filter(all)
	if len(want) == 0 || len(want) == len(all) {
		t.Fatalf("the split gives a %d of %d targets; the test needs some", len(want), len(all))
	}
	sched.mu.Lock()
	got := sched.last
	sched.mu.Unlock()
	ids := func(ts []linkwatch.Target) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = t.ID
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("the scheduler checks %d targets, want a's %d of the two-member split", len(got), len(want))
	}
}

// handOverRecorder records how each target list reached it.
type handOverRecorder struct {
	calls []string
}

func (s *handOverRecorder) SetTargets(ts []linkwatch.Target) {
	s.calls = append(s.calls, fmt.Sprintf("set %d", len(ts)))
}

func (s *handOverRecorder) HandOver(ts []linkwatch.Target, since time.Time) {
	s.calls = append(s.calls, fmt.Sprintf("hand over %d since %s", len(ts), since.Format(time.TimeOnly)))
}

// TestShareHandsOverAJoinersHosts: the assignment with which a joiner
// takes its hosts reaches the scheduler as a hand-over, with its Since;
// any other change, and a reload, as a plain list.
func TestShareHandsOverAJoinersHosts(t *testing.T) {
	var all []linkwatch.Target
	for i := range 40 {
		u := fmt.Sprintf("https://h%d.test/", i)
		all = append(all, linkwatch.Target{ID: u, URL: u, Kind: linkwatch.TargetDestination})
	}
	sched := &handOverRecorder{}
	p := NewShare(sched, nopOwnership{}, all, Assignment{Self: "c", Members: []string{"a", "b"}})
	since := time.Date(2026, 12, 7, 12, 0, 5, 0, time.UTC)
	p.SetAssignment(Assignment{Self: "c", Members: []string{"a", "b", "c"}, Since: since})
	p.SetTargets(all)
	p.SetAssignment(Assignment{Self: "c", Members: []string{"a", "c"}})
	mine := len(Assignment{Self: "c", Members: []string{"a", "b", "c"}}.Filter(all))
	want := []string{fmt.Sprintf("hand over %d since 12:00:05", mine), fmt.Sprintf("set %d", mine),
		fmt.Sprintf("set %d", len(Assignment{Self: "c", Members: []string{"a", "c"}}.Filter(all)))}
	if !slices.Equal(sched.calls, want) {
		t.Errorf("the scheduler got %q, want %q", sched.calls, want)
	}
}
