package incidents_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

// checked is serve's order for one interval's results: stored by the
// result writer, then taken in by eng, at the harness's time. saved false
// is a replica killed before its writer flushed.
func (h *harness) checked(eng *incidents.Engine, saved bool, steps ...step) {
	h.t.Helper()
	for _, s := range steps {
		r := s.result(h.now)
		if saved {
			if err := h.db.SaveResults(context.Background(), []linkwatch.Result{r}); err != nil {
				h.t.Fatal(err)
			}
		}
		if err := eng.Handle(context.Background(), r); err != nil {
			h.t.Fatalf("Handle(%+v): %v", s, err)
		}
	}
	h.now = h.now.Add(10 * time.Second)
}

// moveShop hands the shop.example host from one replica to another, as a
// change of the replicas' split does; the new owner takes it over with its
// next result.
func moveShop(from, to *incidents.Engine) {
	from.SetOwnership(func(t string) bool { return !strings.Contains(t, "shop.example") })
	to.SetOwnership(func(t string) bool { return strings.Contains(t, "shop.example") })
}

func openIncidents(h *harness) []linkwatch.Incident {
	h.t.Helper()
	open, err := h.db.OpenIncidents(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return open
}

// TestMovedHostContinuesItsFailures: a host fails once at its owner and
// moves; its first failure at the new owner is the second in a row, and
// opens the incident (failure_threshold 2). Counted from zero, a host that
// moves at every other check would never open one.
func TestMovedHostContinuesItsFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	a, b := h.replica("a"), h.replica("b")
	b.SetOwnership(func(string) bool { return false })
	h.checked(a, true, down(shopA, linkwatch.CauseHTTP5xx))
	moveShop(a, b)
	h.checked(b, true, down(shopA, linkwatch.CauseHTTP5xx))
	open := openIncidents(h)
	if len(open) != 1 || open[0].Key != "dest:"+shopA {
		t.Fatalf("open after two failures in a row on two replicas: %+v, want shopA's incident", open)
	}
	if ev, _ := h.db.IncidentEvidence(context.Background(), open[0].ID); len(ev) != 2 {
		t.Errorf("evidence of %d failures, want both, the one read back included", len(ev))
	}
	if open[0].StartedAt != t0 {
		t.Errorf("started at %s, want the first failure's check (%s), seen by the old owner", open[0].StartedAt, t0)
	}
}

// TestRestartContinuesItsFailures: the same across a restart.
func TestRestartContinuesItsFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	h.checked(h.eng, true, down(blog, linkwatch.CauseHTTP5xx))
	h.restart()
	h.checked(h.eng, true, down(blog, linkwatch.CauseHTTP5xx))
	if open := openIncidents(h); len(open) != 1 {
		t.Fatalf("open after two failures around a restart: %+v, want one incident", open)
	}
}

// TestMovedFlappingIncidentResolves: a flapping incident needs FlapStable
// successes in a row. Its host moves after every two of them, there and
// back: it still resolves at the sixth, not never.
func TestMovedFlappingIncidentResolves(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{FlapCount: 3, FlapStable: 6})
	a, b := h.replica("a"), h.replica("b")
	b.SetOwnership(func(string) bool { return false })
	for range 3 {
		h.checked(a, true, down(shopA, linkwatch.CauseHTTP5xx))
		h.checked(a, true, down(shopA, linkwatch.CauseHTTP5xx))
		h.checked(a, true, up(shopA))
		h.checked(a, true, up(shopA))
	}
	open := openIncidents(h)
	if len(open) != 1 || !open[0].Flapping {
		t.Fatalf("after the third flap: %+v, want a flapping incident", open)
	}
	moveShop(a, b)
	h.checked(b, true, up(shopA))
	h.checked(b, true, up(shopA))
	moveShop(b, a)
	h.checked(a, true, up(shopA))
	if len(openIncidents(h)) != 1 {
		t.Fatal("resolved after 5 successes, want 6")
	}
	h.checked(a, true, up(shopA))
	if open := openIncidents(h); len(open) != 0 {
		t.Fatalf("still open after 6 successes in a row on two replicas: %+v", open)
	}
}

// TestAnswersFromBeforeTheOutageDoNotResolveIt: the owner opened an
// incident and was killed before its failing checks were stored, so the
// newest checks stored are answers from before the outage. The new owner
// does not count them: one answer of its own does not resolve.
func TestAnswersFromBeforeTheOutageDoNotResolveIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	a, b := h.replica("a"), h.replica("b")
	b.SetOwnership(func(string) bool { return false })
	for range 5 {
		h.checked(a, true, up(shopA))
	}
	h.checked(a, false, down(shopA, linkwatch.CauseHTTP5xx))
	h.checked(a, false, down(shopA, linkwatch.CauseHTTP5xx))
	if len(openIncidents(h)) != 1 {
		t.Fatal("no incident opened")
	}
	moveShop(a, b)
	h.checked(b, true, up(shopA))
	if len(openIncidents(h)) != 1 {
		t.Fatal("resolved by one answer and five from before the outage")
	}
	h.checked(b, true, up(shopA))
	if open := openIncidents(h); len(open) != 0 {
		t.Fatalf("still open after two answers: %+v", open)
	}
}

// TestCheckReadBackCountsOnce: the new owner's first check of a moved
// host is stored before its engine takes it in (the writer and the engine
// get each result at once). Read back with the run, it is not counted a
// second time when it arrives.
func TestCheckReadBackCountsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{FailureThreshold: 3})
	a, b := h.replica("a"), h.replica("b")
	b.SetOwnership(func(string) bool { return false })
	h.checked(a, true, down(shopA, linkwatch.CauseHTTP5xx))
	moveShop(a, b)
	h.checked(b, true, down(shopA, linkwatch.CauseHTTP5xx)) // stored, then handled: read back by the take-over
	if open := openIncidents(h); len(open) != 0 {
		t.Fatalf("open after two failures, threshold 3: %+v (a check counted twice)", open)
	}
	h.checked(b, true, down(shopA, linkwatch.CauseHTTP5xx))
	if open := openIncidents(h); len(open) != 1 {
		t.Fatalf("open after three failures: %+v, want one incident", open)
	}
}
