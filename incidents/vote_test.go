package incidents_test

import (
	"slices"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	const target = "https://shop.example/a"
	now := t0
	fresh := 30 * time.Second
	ok := func(region string) incidents.RegionHealth {
		return incidents.RegionHealth{Region: region, CanaryOK: true, At: now.Add(-5 * time.Second)}
	}
	sick := func(region string) incidents.RegionHealth {
		return incidents.RegionHealth{Region: region, CanaryOK: false, At: now.Add(-5 * time.Second)}
	}
	stale := func(h incidents.RegionHealth) incidents.RegionHealth { h.At = now.Add(-fresh - time.Second); return h }
	replica := func(h incidents.RegionHealth, name string) incidents.RegionHealth { h.Replica = name; return h }
	fails := func(region string, since time.Duration) incidents.Verdict {
		return incidents.Verdict{Target: target, Region: region, Failing: true, Cause: linkwatch.CauseConnectRefused,
			Since: now.Add(-since), UpdatedAt: now.Add(-time.Second)}
	}
	upv := func(region string) incidents.Verdict {
		return incidents.Verdict{Target: target, Region: region, Since: now, UpdatedAt: now}
	}
	old := func(v incidents.Verdict) incidents.Verdict { v.UpdatedAt = now.Add(-fresh - time.Second); return v }
	other := func(v incidents.Verdict) incidents.Verdict { v.Target = "https://blog.example/"; return v }

	tests := []struct {
		name     string
		verdicts []incidents.Verdict
		health   []incidents.RegionHealth
		voting   []string
		failing  []string
		majority bool
	}{
		{"one region failing is a majority of one (as today)",
			[]incidents.Verdict{fails("a", 20)}, []incidents.RegionHealth{ok("a")}, []string{"a"}, []string{"a"}, true},
		{"two regions, one failing: a tie is no majority",
			[]incidents.Verdict{fails("a", 20)}, []incidents.RegionHealth{ok("a"), ok("b")}, []string{"a", "b"}, []string{"a"}, false},
		{"two regions, both failing",
			[]incidents.Verdict{fails("a", 20), fails("b", 10)}, []incidents.RegionHealth{ok("a"), ok("b")}, []string{"a", "b"}, []string{"a", "b"}, true},
		{"three regions, two failing",
			[]incidents.Verdict{fails("a", 20), fails("c", 10), upv("b")}, []incidents.RegionHealth{ok("a"), ok("b"), ok("c")}, []string{"a", "b", "c"}, []string{"a", "c"}, true},
		{"three regions, one failing",
			[]incidents.Verdict{fails("b", 20)}, []incidents.RegionHealth{ok("a"), ok("b"), ok("c")}, []string{"a", "b", "c"}, []string{"b"}, false},
		{"four regions, two failing: a tie",
			[]incidents.Verdict{fails("a", 20), fails("b", 20)}, []incidents.RegionHealth{ok("a"), ok("b"), ok("c"), ok("d")}, []string{"a", "b", "c", "d"}, []string{"a", "b"}, false},
		{"four regions, three failing",
			[]incidents.Verdict{fails("a", 20), fails("b", 20), fails("d", 20)}, []incidents.RegionHealth{ok("a"), ok("b"), ok("c"), ok("d")}, []string{"a", "b", "c", "d"}, []string{"a", "b", "d"}, true},
		{"a region whose canary fails drops out: the other's failure alone is a majority",
			[]incidents.Verdict{fails("a", 20)}, []incidents.RegionHealth{ok("a"), sick("b")}, []string{"a"}, []string{"a"}, true},
		{"a region whose canary fails drops out, its failing verdict with it",
			[]incidents.Verdict{fails("b", 20)}, []incidents.RegionHealth{ok("a"), sick("b")}, []string{"a"}, nil, false},
		{"a region votes while one of its replicas proves its network, whichever wrote last",
			[]incidents.Verdict{fails("a", 20)}, []incidents.RegionHealth{ok("a"), replica(ok("b"), "b1"), replica(sick("b"), "b2")}, []string{"a", "b"}, []string{"a"}, false},
		{"a region drops out when none of its replicas proves its network",
			[]incidents.Verdict{fails("a", 20)}, []incidents.RegionHealth{ok("a"), replica(sick("b"), "b1"), replica(stale(ok("b")), "b2")}, []string{"a"}, []string{"a"}, true},
		{"a region whose canary row is stale drops out",
			[]incidents.Verdict{fails("a", 20), fails("c", 20)}, []incidents.RegionHealth{ok("a"), ok("b"), stale(ok("c"))}, []string{"a", "b"}, []string{"a"}, false},
		{"stale failing verdicts are ignored",
			[]incidents.Verdict{fails("a", 20), old(fails("b", 20))}, []incidents.RegionHealth{ok("a"), ok("b")}, []string{"a", "b"}, []string{"a"}, false},
		{"a verdict that says up is not failing",
			[]incidents.Verdict{upv("a"), upv("b")}, []incidents.RegionHealth{ok("a"), ok("b")}, []string{"a", "b"}, nil, false},
		{"another target's verdicts do not count",
			[]incidents.Verdict{fails("a", 20), other(fails("b", 20))}, []incidents.RegionHealth{ok("a"), ok("b")}, []string{"a", "b"}, []string{"a"}, false},
		{"every canary failing: the canary is the outage, every fresh region votes",
			[]incidents.Verdict{fails("a", 20), fails("b", 20)}, []incidents.RegionHealth{sick("a"), sick("b"), stale(ok("c"))}, []string{"a", "b"}, []string{"a", "b"}, true},
		{"no fresh region: nobody votes",
			[]incidents.Verdict{fails("a", 20)}, []incidents.RegionHealth{stale(ok("a"))}, nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := incidents.Decide(target, tc.verdicts, tc.health, time.Time{}, now, fresh)
			if !slices.Equal(v.Voting, tc.voting) || !slices.Equal(v.Failing, tc.failing) || v.Majority() != tc.majority {
				t.Errorf("vote = voting %v failing %v majority %v; want %v %v %v", v.Voting, v.Failing, v.Majority(), tc.voting, tc.failing, tc.majority)
			}
			if len(v.Failing)+len(v.Up) != len(v.Voting) {
				t.Errorf("failing %v and up %v do not make up voting %v", v.Failing, v.Up, v.Voting)
			}
			if v.Minority() != (len(v.Failing) > 0 && !tc.majority) {
				t.Errorf("minority = %v", v.Minority())
			}
		})
	}
}

func TestVoteSince(t *testing.T) {
	t.Parallel()
	v := incidents.Decide("x", []incidents.Verdict{
		{Target: "x", Region: "a", Failing: true, Cause: linkwatch.CauseTimeout, Since: t0.Add(-10 * time.Second), UpdatedAt: t0},
		{Target: "x", Region: "b", Failing: true, Cause: linkwatch.CauseDNS, Since: t0.Add(-40 * time.Second), UpdatedAt: t0},
	}, []incidents.RegionHealth{{Region: "a", CanaryOK: true, At: t0}, {Region: "b", CanaryOK: true, At: t0}}, time.Time{}, t0, time.Minute)
	if v.Cause != linkwatch.CauseDNS || !v.Since.Equal(t0.Add(-40*time.Second)) {
		t.Errorf("cause %s since %v, want the earliest failure's (dns, 40 s ago)", v.Cause, v.Since)
	}
}

// TestVoteEnded: a failing verdict that began before the target's last
// incident or note ended counts for nothing, fresh as it is: that region
// proves the failure again after the end. One that began at or after it
// counts, and the vote's since is never before the end.
func TestVoteEnded(t *testing.T) {
	t.Parallel()
	ended := t0.Add(-15 * time.Second)
	health := []incidents.RegionHealth{{Region: "a", CanaryOK: true, At: t0}, {Region: "b", CanaryOK: true, At: t0}, {Region: "c", CanaryOK: true, At: t0}}
	v := incidents.Decide("x", []incidents.Verdict{
		{Target: "x", Region: "a", Failing: true, Cause: linkwatch.CauseDNS, Since: t0.Add(-40 * time.Second), UpdatedAt: t0},
		{Target: "x", Region: "b", Failing: true, Cause: linkwatch.CauseTimeout, Since: t0.Add(-10 * time.Second), UpdatedAt: t0},
		{Target: "x", Region: "c", Failing: true, Cause: linkwatch.CauseDNS, Since: ended, UpdatedAt: t0},
	}, health, ended, t0, time.Minute)
	if !slices.Equal(v.Failing, []string{"b", "c"}) || !slices.Equal(v.Up, []string{"a"}) {
		t.Errorf("failing %v up %v, want only b's and c's verdicts, begun at or after the end, to count", v.Failing, v.Up)
	}
	if v.Cause != linkwatch.CauseDNS || !v.Since.Equal(ended) || !v.Ended.Equal(ended) {
		t.Errorf("cause %s since %v ended %v, want c's (dns, at the end) and the end", v.Cause, v.Since, v.Ended)
	}
}

func TestVoteSentence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		failing, up []string
		want        string
	}{
		{[]string{"eu-west"}, []string{"us-east"}, "failing from eu-west; us-east sees it up"},
		{[]string{"eu-west", "us-east"}, []string{"us-west"}, "failing from eu-west and us-east; us-west sees it up"},
		{[]string{"a", "b", "c"}, []string{"d", "e"}, "failing from a, b and c; d and e see it up"},
		{[]string{"a"}, nil, "failing from a"},
	}
	for _, tc := range tests {
		if got := (incidents.Vote{Failing: tc.failing, Up: tc.up}).Sentence(); got != tc.want {
			t.Errorf("Sentence(%v, %v) = %q, want %q", tc.failing, tc.up, got, tc.want)
		}
	}
}
