package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"linkwatch/checker"
)

var t0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// TestJudgeChecks: with checks every 10 s from 0 to 100 s, a destination
// that one replica's death left alone for 25 s, one whose last check was
// 30 s before the end, and one checked twice 2 s apart are each named
// once; the steady one is not; a gap or pair before the warm-up counts
// for nothing.
func TestJudgeChecks(t *testing.T) {
	every := func(from, to, step float64, extra ...float64) []check {
		var cs []check
		for s := from; s <= to; s += step {
			cs = append(cs, check{at: sec(s), by: "r0"})
		}
		for _, s := range extra {
			cs = append(cs, check{at: sec(s), by: "r1"})
		}
		return cs
	}
	checks := map[string][]check{
		"http://a/steady": every(0, 100, 10),
		"http://a/gap":    append(every(0, 40, 10), every(65, 100, 10)...),
		"http://a/tail":   every(0, 70, 10),
		"http://a/double": every(0, 100, 10, 52),
		"http://a/early":  append(every(-40, -39, 1), every(-30, 100, 10)...),
	}
	unchecked, doubles := judgeChecks(checks, sec(0), sec(100), 20*time.Second, 5*time.Second)
	if len(unchecked) != 2 || unchecked[0].url != "http://a/gap" || !unchecked[0].from.Equal(sec(40)) || !unchecked[0].to.Equal(sec(65)) ||
		unchecked[1].url != "http://a/tail" || !unchecked[1].to.Equal(sec(100)) {
		t.Errorf("unchecked %+v; want a/gap from 40 s to 65 s and a/tail from 70 s to the end", unchecked)
	}
	if len(doubles) != 1 || doubles[0].url != "http://a/double" || !doubles[0].from.Equal(sec(50)) || !doubles[0].to.Equal(sec(52)) ||
		doubles[0].by != [2]string{"r0", "r1"} {
		t.Errorf("doubles %+v; want a/double at 50 s by r0 and 52 s by r1", doubles)
	}
}

// TestJudgeIncidentAlerts: an outage whose opening was re-sent with the
// same webhook-id is one opening and one re-send; an outage that opened
// twice on one channel (two incidents) is two openings; an incident on a
// host that had no outage, or before its outage, is stray.
func TestJudgeIncidentAlerts(t *testing.T) {
	outages := []window{
		{from: sec(100), to: sec(140), what: "127.0.0.2"},
		{from: sec(200), to: sec(240), what: "127.0.0.3"},
	}
	h2 := []string{"http://127.0.0.2:4000/d1"}
	h3 := []string{"http://127.0.0.3:4000/d1", "http://127.0.0.3:4000/d2"}
	alerts := []alert{
		{at: sec(50), channel: "ops", id: "m0", typ: "incident.opened", incident: 9, targets: h2},
		{at: sec(120), channel: "ops", id: "m1", typ: "incident.opened", incident: 1, targets: h2},
		{at: sec(121), channel: "audit", id: "m2", typ: "incident.opened", incident: 1, targets: h2},
		{at: sec(125), channel: "ops", id: "m1", typ: "incident.opened", incident: 1, targets: h2}, // re-send
		{at: sec(160), channel: "ops", id: "m3", typ: "incident.resolved", incident: 1, targets: h2},
		{at: sec(160), channel: "audit", id: "m4", typ: "incident.resolved", incident: 1, targets: h2},
		{at: sec(220), channel: "ops", id: "m5", typ: "incident.opened", incident: 2, targets: h3},
		{at: sec(222), channel: "ops", id: "m6", typ: "incident.resolved", incident: 2, targets: h3},
		{at: sec(225), channel: "ops", id: "m7", typ: "incident.opened", incident: 3, targets: h3},
		{at: sec(230), channel: "ops", id: "m8", typ: "incident.opened", incident: 4, targets: []string{"http://127.0.0.9:4000/d1"}},
		{at: sec(231), channel: "ops", id: "m9", typ: "storage.unreachable", replica: "r1"},
	}
	per, stray := judgeIncidentAlerts(alerts, outages, nil, []string{"ops", "audit"}, 10*time.Second, 2, sec(3600))
	if a := per[0].by["ops"]; a.opened != 1 || a.resolved != 1 || a.resent != 1 {
		t.Errorf("first outage on ops: %+v; want 1 opened, 1 resolved, 1 re-sent", *a)
	}
	if a := per[0].by["audit"]; a.opened != 1 || a.resolved != 1 || a.resent != 0 {
		t.Errorf("first outage on audit: %+v; want 1 opened, 1 resolved", *a)
	}
	if a := per[1].by["ops"]; a.opened != 2 || len(a.incidents) != 2 {
		t.Errorf("second outage on ops: %+v; want 2 openings of 2 incidents", *a)
	}
	if a := per[1].by["audit"]; a.opened != 0 {
		t.Errorf("second outage on audit: %+v; want nothing", *a)
	}
	if len(stray) != 2 || stray[0].incident != 9 || stray[1].incident != 4 {
		t.Errorf("stray %+v; want incidents 9 (before its host's outage) and 4 (a host with none)", stray)
	}
}

// TestJudgeLateFlappingResolution: a host failing for the third time
// within the flap window opens a flapping incident, which resolves only
// after 10 answers in a row. When the run ends before that is due, its
// opening is judged and its resolution may be missing; a host that is not
// flapping, or whose resolution was due, must have it. An outage inside
// the database's counts for no recovery.
func TestJudgeLateFlappingResolution(t *testing.T) {
	h := func(from float64, host string) window { return window{from: sec(from), to: sec(from + 40), what: host} }
	db := []window{{from: sec(1000), to: sec(1100), what: "database"}}
	outages := []window{h(0, "127.0.0.2"), h(720, "127.0.0.2"), h(1440, "127.0.0.2"), // the third: flapping
		h(500, "127.0.0.3"), h(1020, "127.0.0.3"), h(1450, "127.0.0.3")} // the second was inside the database's outage
	end := sec(1440 + 40 + 60) // a minute after the last outages end: 2 answers are due, 10 are not
	per, _ := judgeIncidentAlerts(nil, outages, db, []string{"ops"}, 10*time.Second, 2, end)
	for i, want := range []expectation{expectOne, expectOne, expectOneLate, expectOne, expectNone, expectOne} {
		if per[i].expect != want {
			t.Errorf("outage %d (%s at %s): %v, want %v", i, outages[i].what, outages[i].from.Sub(t0), per[i].expect, want)
		}
	}
	if per, _ := judgeIncidentAlerts(nil, outages, db, []string{"ops"}, 10*time.Second, 2, end.Add(2*time.Minute)); per[2].expect != expectOne {
		t.Errorf("a flapping host's outage ending 3 minutes before the run: %v, want %v", per[2].expect, expectOne)
	}
	for _, tc := range []struct {
		e    expectation
		a    alertCount
		want bool
	}{
		{expectOneLate, alertCount{opened: 1}, true},
		{expectOneLate, alertCount{opened: 1, resolved: 1}, true},
		{expectOneLate, alertCount{}, false},
		{expectOneLate, alertCount{opened: 2, resolved: 1}, false},
		{expectEitherLate, alertCount{}, true},
		{expectEitherLate, alertCount{opened: 1}, true},
		{expectEitherLate, alertCount{resolved: 1}, false},
	} {
		if got := tc.e.met(tc.a); got != tc.want {
			t.Errorf("%v met by %+v: %v", tc.e, tc.a, got)
		}
	}
}

// TestJudgeGapsAfterKills: a destination whose checker was killed during
// a database outage, or less than half an interval before it, is measured
// from the outage's end: checked 15 s after it, it is no gap; 25 s after
// it, it is one; with another replica killed after the return, it is
// measured from that kill. A checker killed long before the outage, or a gap whose
// last checker is not the one killed, or one that ended before the
// database was back, is counted from the last check as before.
func TestJudgeGapsAfterKills(t *testing.T) {
	db := []window{{from: sec(100), to: sec(145), what: "database"}}
	kills := []kill{{at: sec(110), slot: 0}, {at: sec(96), slot: 1}, {at: sec(60), slot: 2}}
	r := replicaAgent
	gaps := []checkGap{
		{url: "in", from: sec(105), to: sec(160), by: [2]string{r(0), r(1)}},      // 15 s after the return
		{url: "in-late", from: sec(105), to: sec(170), by: [2]string{r(0), r(1)}}, // 25 s after
		{url: "just-before", from: sec(94), to: sec(158), by: [2]string{r(1), r(0)}},
		{url: "long-before", from: sec(55), to: sec(150), by: [2]string{r(2), r(0)}},
		{url: "other-checker", from: sec(105), to: sec(160), by: [2]string{r(2), r(0)}},
		{url: "during", from: sec(105), to: sec(140), by: [2]string{r(0), r(1)}},
		{url: "rekilled", from: sec(105), to: sec(185), by: [2]string{r(0), r(1)}}, // 14 s after the kill at 171 s
		{url: "rekilled-late", from: sec(105), to: sec(195), by: [2]string{r(0), r(1)}},
	}
	kills = append(kills, kill{at: sec(171), slot: 2})
	counted, fromReturn, late, rekilled := judgeGapsAfterKills(gaps, kills, db, 10*time.Second, 20*time.Second)
	urls := func(gs []checkGap) (out []string) {
		for _, g := range gs {
			out = append(out, g.url)
		}
		return out
	}
	if got := urls(fromReturn); !slices.Equal(got, []string{"in", "in-late", "just-before", "rekilled", "rekilled-late"}) {
		t.Errorf("measured from the return: %v", got)
	}
	if got := urls(late); !slices.Equal(got, []string{"in-late", "rekilled-late"}) {
		t.Errorf("late after the return: %v", got)
	}
	if rekilled != 1 {
		t.Errorf("%d within 2 intervals only from a kill after the return, want 1", rekilled)
	}
	if got := urls(counted); !slices.Equal(got, []string{"long-before", "other-checker", "during"}) {
		t.Errorf("counted as they are: %v", got)
	}
}

// TestExpectAlerts: a host's outage apart from the database's must be
// alerted once; one wholly inside it not at all; one overlapping it once
// when the engine saw it fail twice with the database up (down 2.5
// intervals before it, or still 2.5 intervals after its return), else
// either.
func TestExpectAlerts(t *testing.T) {
	db := []window{{from: sec(100), to: sec(145), what: "database"}}
	for _, tc := range []struct {
		from, to float64
		want     expectation
	}{
		{10, 50, expectOne},
		{145, 185, expectOne}, // starts as the database returns
		{102, 142, expectNone},
		{100, 145, expectNone},
		{70, 110, expectOne},    // 30 s before
		{80, 120, expectEither}, // 20 s before
		{130, 170, expectOne},   // 25 s after
		{120, 160, expectEither},
		{90, 160, expectEither}, // over the whole outage, 10 s before and 15 s after
		{90, 175, expectOne},
	} {
		if got := expectAlerts(window{from: sec(tc.from), to: sec(tc.to)}, db, 10*time.Second, 2); got != tc.want {
			t.Errorf("host down %v s to %v s: %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	for _, tc := range []struct {
		e    expectation
		a    alertCount
		want bool
	}{
		{expectOne, alertCount{opened: 1, resolved: 1, resent: 2}, true},
		{expectOne, alertCount{}, false},
		{expectNone, alertCount{}, true},
		{expectNone, alertCount{opened: 1, resolved: 1}, false},
		{expectEither, alertCount{}, true},
		{expectEither, alertCount{opened: 1, resolved: 1}, true},
		{expectEither, alertCount{opened: 1}, false},
		{expectEither, alertCount{opened: 2, resolved: 2}, false},
	} {
		if got := tc.e.met(tc.a); got != tc.want {
			t.Errorf("%v met by %+v: %v", tc.e, tc.a, got)
		}
	}
}

// TestJudgeStorageAlerts: each replica's storage alerts are counted
// against the database outage that began before them, a re-send apart.
func TestJudgeStorageAlerts(t *testing.T) {
	outages := []window{{from: sec(100), to: sec(160), what: "database"}, {from: sec(400), to: sec(460), what: "database"}}
	alerts := []alert{
		{at: sec(135), channel: "ops", id: "a", typ: "storage.unreachable", replica: "r1"},
		{at: sec(136), channel: "ops", id: "b", typ: "storage.unreachable", replica: "r2"},
		{at: sec(140), channel: "ops", id: "a", typ: "storage.unreachable", replica: "r1"},
		{at: sec(165), channel: "ops", id: "c", typ: "storage.reachable", replica: "r1"},
		{at: sec(430), channel: "ops", id: "d", typ: "storage.unreachable", replica: "r1"},
		{at: sec(431), channel: "ops", id: "e", typ: "storage.unreachable", replica: "r1"},
	}
	per := judgeStorageAlerts(alerts, outages)
	if c := per[0]["ops"]["r1"]; c.unreachable != 1 || c.reachable != 1 || c.resent != 1 {
		t.Errorf("first outage r1: %+v", *c)
	}
	if c := per[0]["ops"]["r2"]; c.unreachable != 1 || c.reachable != 0 {
		t.Errorf("first outage r2: %+v", *c)
	}
	if c := per[1]["ops"]["r1"]; c.unreachable != 2 {
		t.Errorf("second outage r1: %+v; want 2 unreachable", *c)
	}
}

// TestChaosJudgeMisses: a run that failed a redirect, left a destination
// unchecked, had it checked by two replicas half a second apart and
// alerted twice for one outage misses four goals and says which; a clean
// run misses none, though one of its gaps is 2 intervals and 20 ms.
func TestChaosJudgeMisses(t *testing.T) {
	outage := window{from: sec(20), to: sec(50), what: "127.0.0.2"}
	h := []string{"http://127.0.0.2:4000/d0"}
	clean := chaosRecord{
		start: sec(0), warm: sec(0), end: sec(100), interval: 10 * time.Second, replicas: 3,
		redirects: []redirect{{at: sec(1), latency: time.Millisecond}, {at: sec(2), latency: time.Millisecond}},
		checks:    map[string][]check{h[0]: atTimes(0, 10, 30.02, 40, 50, 60, 70, 80, 90)},
		alerts: []alert{
			{at: sec(35), channel: "ops", id: "1", typ: "incident.opened", incident: 1, targets: h},
			{at: sec(35), channel: "audit", id: "2", typ: "incident.opened", incident: 1, targets: h},
			{at: sec(70), channel: "ops", id: "3", typ: "incident.resolved", incident: 1, targets: h},
			{at: sec(70), channel: "audit", id: "4", typ: "incident.resolved", incident: 1, targets: h},
		},
		hostOutages: []window{outage},
	}
	var out bytes.Buffer
	if missed := chaosJudge(&out, clean); len(missed) != 0 {
		t.Errorf("clean run missed %v:\n%s", missed, out.String())
	}
	// A database outage from 60 s to 88 s: a host down and back inside it
	// is not alerted, and the destination whose checker was killed during
	// it is checked 12 s after its return; both are as they should be.
	h3 := "http://127.0.0.3:4000/d0"
	inside := clean
	inside.checks = map[string][]check{h[0]: clean.checks[h[0]], h3: append(atTimes(0, 10, 20, 30, 40, 50, 60),
		check{at: sec(100), by: replicaAgent(1)})}
	inside.checks[h3][len(inside.checks[h3])-2].by = replicaAgent(0)
	inside.kills = []kill{{at: sec(65), slot: 0}}
	inside.dbOutages = []window{{from: sec(60), to: sec(88), what: "database"}}
	inside.hostOutages = append(inside.hostOutages, window{from: sec(62), to: sec(80), what: "127.0.0.3"})
	inside.alerts = slices.Clone(clean.alerts)
	for i, c := range chaosChannels {
		inside.alerts = append(inside.alerts, alert{at: sec(61), channel: c, id: fmt.Sprint("u", i), typ: "storage.unreachable", replica: "r1"},
			alert{at: sec(89), channel: c, id: fmt.Sprint("r", i), typ: "storage.reachable", replica: "r1"})
	}
	out.Reset()
	if missed := chaosJudge(&out, inside); len(missed) != 0 {
		t.Errorf("a run with a host outage inside the database's and a kill during it missed %v:\n%s", missed, out.String())
	}
	for _, want := range []string{"1 destinations whose checker was killed during a database outage", "(expected none: the host failed and recovered while the database was down)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	bad := clean
	bad.redirects = append(bad.redirects, redirect{at: sec(3), replica: 1, err: "status 503"})
	bad.checks = map[string][]check{h[0]: atTimes(0, 10, 45, 55, 65, 75, 85, 95)}
	bad.checks[h[0]] = append(bad.checks[h[0]], check{at: sec(55.5), by: "r1"})
	bad.alerts = append(bad.alerts, alert{at: sec(36), channel: "ops", id: "5", typ: "incident.opened", incident: 2, targets: h})
	out.Reset()
	missed := chaosJudge(&out, bad)
	if len(missed) != 4 || !strings.Contains(missed[0], "1 failed redirects") || !strings.Contains(missed[1], "1 gaps") ||
		!strings.Contains(missed[2], "1 double checks") || !strings.Contains(missed[3], "1 outage-channel pairs") {
		t.Errorf("missed %q; want a failed redirect, a gap, a double check and one outage-channel pair", missed)
	}
	for _, want := range []string{"status 503", h[0] + ": 10s to 45s", h[0] + ": 55s to 55.5s (500ms) by r0, then r1", "1 of them by two replicas", "ops 2 opened"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func atTimes(secs ...float64) []check {
	var cs []check
	for _, s := range secs {
		cs = append(cs, check{at: sec(s), by: "r0"})
	}
	return cs
}

// TestLateNotMissed: a gap of 2 intervals whose later check came 400 ms
// after its slot is the schedule and a scheduling lag, not a miss; one
// whose later check came 1.2 s after its slot (more than a tenth of an
// interval: not taken for the slot's), one of 3 intervals to a check on
// time at its slot (a slot missed), and one to the end of the run (no
// check at all) are misses.
func TestLateNotMissed(t *testing.T) {
	const interval = 10 * time.Second
	u := "http://127.0.0.2:4000/d7"
	slot := func(k int) time.Time {
		return t0.Truncate(interval).Add(time.Duration(k)*interval + checker.Offset(u, interval))
	}
	ms := time.Millisecond
	gaps := []checkGap{
		{url: u, from: slot(1).Add(20 * ms), to: slot(3).Add(400 * ms), by: [2]string{"r0", "r1"}},
		{url: u, from: slot(11), to: slot(13).Add(1200 * ms), by: [2]string{"r0", "r1"}},
		{url: u, from: slot(21), to: slot(24).Add(10 * ms), by: [2]string{"r0", "r1"}},
		{url: u, from: slot(31), to: slot(33).Add(400 * ms), by: [2]string{"r0", ""}},
	}
	missed, lagged, worst := lateNotMissed(gaps, interval)
	if len(lagged) != 1 || !lagged[0].from.Equal(gaps[0].from) || worst != 400*ms {
		t.Errorf("lagged %+v (worst %s); want the first gap, 400ms late", lagged, worst)
	}
	if len(missed) != 3 || !missed[0].from.Equal(gaps[1].from) || !missed[1].from.Equal(gaps[2].from) || !missed[2].from.Equal(gaps[3].from) {
		t.Errorf("missed %+v; want the other three", missed)
	}
}
