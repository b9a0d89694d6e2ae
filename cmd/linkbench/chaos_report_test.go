package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
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
	per, stray := judgeIncidentAlerts(alerts, outages, []string{"ops", "audit"})
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
