package main

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"linkwatch/checker"
	"linkwatch/incidents"
)

// What the chaos run judges, from what it recorded: the fleet's log of
// checks, the receiver's log of alerts, the load's log of redirects and
// the run's own log of what it broke and when. Each judge is a function
// of those logs alone, so it can be tested on logs made up to miss a goal.

// window is a span of the run: a host's outage, the database's.
type window struct {
	from, to time.Time
	what     string // "127.0.0.3", "database"
}

// checkSlack is what a gap between checks may exceed 2 intervals by
// and still be 2 intervals: timer noise, not a missed check. On a crowded
// machine (a load average of 20 on 2 cores) a scheduler's timer fires
// tens of milliseconds late (seen: 60 ms); a missed check is an interval.
const checkSlack = 250 * time.Millisecond

// lateAtSlot says whether the check of url that arrived at t was one made
// at its slot, and how late: the replicas lay each destination's slot at
// checker.Offset(url, interval) into every interval of the database's
// clock (this machine's: the server runs here), so a check arriving up to
// a tenth of an interval after a slot was made there, that much late
// under load. A gap of 2 intervals whose later check came late at its
// slot is 2 intervals of the schedule and a scheduling lag, not a third
// interval unchecked: a slot missed costs a whole interval, ten times
// what is forgiven here. (Only a catch-up check, which has no slot, made
// within a tenth of an interval after a slot could pass for one; the
// replicas make one only after a single missed slot, within 1.4 intervals
// of the check before.)
func lateAtSlot(url string, t time.Time, interval time.Duration) (time.Duration, bool) {
	late := t.Sub(t.Truncate(interval)) - checker.Offset(url, interval)
	if late < 0 {
		late += interval
	}
	return late, late <= interval/10
}

// lateNotMissed takes apart, from gaps of more than 2 intervals and
// checkSlack, those whose later check came late at its slot (lateAtSlot)
// and which, counted to that slot, are within it; it returns the others
// (missed), those (lagged) and the largest lateness forgiven.
func lateNotMissed(gaps []checkGap, interval time.Duration) (missed, lagged []checkGap, worst time.Duration) {
	for _, g := range gaps {
		late, atSlot := lateAtSlot(g.url, g.to, interval)
		if g.by[1] == "" || !atSlot || g.to.Add(-late).Sub(g.from) > 2*interval+checkSlack {
			missed = append(missed, g)
			continue
		}
		lagged = append(lagged, g)
		worst = max(worst, late)
	}
	return missed, lagged, worst
}

// replicaAgent is the User-Agent of a replica's checks.
func replicaAgent(slot int) string { return fmt.Sprintf("linkbench-chaos/replica-%d", slot) }

// check is one request of the prober the fleet got.
type check struct {
	at time.Time
	by string // the replica, as its User-Agent names it
}

// checkGap is a destination left unchecked for longer than allowed, or
// checked twice too close together: by whom, then ("" for no check: the
// warm-up's end, the run's).
type checkGap struct {
	url      string
	from, to time.Time
	by       [2]string
}

// judgeChecks finds, among the checks each destination got, the gaps of
// more than most between from and to (the end of the warm-up and of the
// run; a destination's last check before from opens its first gap) and
// the pairs of checks less than least apart.
func judgeChecks(checks map[string][]check, from, to time.Time, most, least time.Duration) (unchecked, doubles []checkGap) {
	urls := make([]string, 0, len(checks))
	for u := range checks {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	for _, u := range urls {
		cs := slices.Clone(checks[u])
		slices.SortFunc(cs, func(a, b check) int { return a.at.Compare(b.at) })
		last, lastBy := from, ""
		for i, c := range cs {
			t := c.at
			if i > 0 && !cs[i-1].at.Before(from) && !t.After(to) && t.Sub(cs[i-1].at) < least {
				doubles = append(doubles, checkGap{u, cs[i-1].at, t, [2]string{cs[i-1].by, c.by}})
			}
			if t.Before(from) {
				last, lastBy = t, c.by
				continue
			}
			if t.After(to) {
				break
			}
			if t.Sub(last) > most {
				unchecked = append(unchecked, checkGap{url: u, from: last, to: t, by: [2]string{lastBy, c.by}})
			}
			last, lastBy = t, c.by
		}
		if to.Sub(last) > most {
			unchecked = append(unchecked, checkGap{url: u, from: last, to: to, by: [2]string{lastBy, ""}})
		}
	}
	return unchecked, doubles
}

// kill is a replica SIGKILLed by the run.
type kill struct {
	at   time.Time
	slot int
}

// judgeGapsAfterKills takes apart, from the gaps judgeChecks found, those
// the database's outage explains: the destination's last checker was
// killed while the database was down, or less than half an interval
// before it went down, and the next check came after the database's
// return. The replicas learn of a death from the database alone (at their
// next heartbeat, a third of an interval later), so no survivor can take
// the dead one's hosts before the return; linkwatch's promise is that it
// does so soon enough for each to be checked again within 2 intervals of
// the return. Those gaps are measured from the return, or from a later
// kill before the next check: the host, handed over after the return to
// a replica killed before it checked it, waits for that one's survivors
// as any dead replica's hosts do (rekilled counts those it takes out of
// late). late lists those
// longer than most even so; the others stay as they are in counted.
func judgeGapsAfterKills(gaps []checkGap, kills []kill, dbOutages []window, interval, most time.Duration) (counted, fromReturn, late []checkGap, rekilled int) {
	for _, g := range gaps {
		ret, explained := time.Time{}, false
		for _, k := range kills {
			if g.by[0] != replicaAgent(k.slot) || k.at.Before(g.from) || !k.at.Before(g.to) {
				continue
			}
			for _, o := range dbOutages {
				if o.from.Before(k.at.Add(interval/2)) && k.at.Before(o.to) && o.to.Before(g.to) {
					ret, explained = o.to, true
				}
			}
		}
		if !explained {
			counted = append(counted, g)
			continue
		}
		fromReturn = append(fromReturn, g)
		from := ret
		for _, k := range kills {
			if k.at.After(from) && k.at.Before(g.to) {
				from = k.at
			}
		}
		switch {
		case g.to.Sub(from) > most:
			late = append(late, g)
		case g.to.Sub(ret) > most:
			rekilled++
		}
	}
	return counted, fromReturn, late, rekilled
}

// alert is one delivery the receiver got.
type alert struct {
	at      time.Time
	channel string // the config file's webhook name
	id      string // webhook-id: the same on a re-send
	typ     string
	// incident alerts
	incident int64
	targets  []string
	// storage alerts
	replica string
}

// alertCount is what one channel got for one outage.
type alertCount struct {
	opened, resolved int // distinct webhook-ids
	resent           int // deliveries of a webhook-id already received
	incidents        []int64
}

// outageAlerts is the alerts of one host's outage, by channel.
type outageAlerts struct {
	outage window
	expect expectation
	by     map[string]*alertCount
}

// expectation is what a host's outage must bring on each channel.
type expectation int

const (
	expectOne    expectation = iota // exactly 1 opening and 1 resolution
	expectNone                      // nothing: the host failed and recovered while the database was down
	expectEither                    // 1 and 1, or nothing: the engine may not have seen failureThreshold failures in a row
	// The same two, for a flapping host whose run ended before its
	// incident's resolution was due: the resolution may not have come.
	expectOneLate
	expectEitherLate
)

func (e expectation) String() string {
	return [...]string{"1 opening and 1 resolution", "none: the host failed and recovered while the database was down",
		"1 and 1, or none: it overlapped a database outage",
		"1 opening, and 1 resolution or none: the host is flapping, and the run ended before its incident's resolution was due",
		"1 and 1, 1 and none, or none: it overlapped a database outage, the host is flapping, and the run ended before its incident's resolution was due"}[e]
}

// met reports whether one channel's count meets the expectation.
func (e expectation) met(a alertCount) bool {
	switch e {
	case expectNone:
		return a.opened == 0 && a.resolved == 0
	case expectEither:
		return a.opened == a.resolved && a.opened <= 1
	case expectOneLate:
		return a.opened == 1 && a.resolved <= 1
	case expectEitherLate:
		return a.opened <= 1 && a.resolved <= a.opened
	}
	return a.opened == 1 && a.resolved == 1
}

// late is the expectation for an outage whose resolution may come after
// the run ends.
func (e expectation) late() expectation {
	switch e {
	case expectOne:
		return expectOneLate
	case expectEither:
		return expectEitherLate
	}
	return e
}

// resolvedBy is when the incident of a host outage ending at to is
// resolved at the latest: threshold successes in a row (a flapping host's
// incident needs incidents.FlapStableFactor times more), a check's
// interval to start them, and half an interval for a hand-over.
func resolvedBy(to time.Time, interval time.Duration, flapping bool) time.Time {
	n := incidents.DefaultSuccessThreshold
	if flapping {
		n *= incidents.FlapStableFactor
	}
	return to.Add(time.Duration(n+1)*interval + interval/2)
}

// mayFlap reports whether outages[i]'s host may be flapping when it
// fails: it may have recovered from incidents.DefaultFlapCount-1 alerted
// outages within incidents.DefaultFlapWindow before it. Its incident
// then opens flapping, and resolves only after that many more answers.
func mayFlap(outages, dbOutages []window, i int, interval time.Duration, threshold int) bool {
	o, n := outages[i], 0
	for _, p := range outages[:i] {
		if p.what == o.what && o.from.Sub(p.to) < incidents.DefaultFlapWindow && expectAlerts(p, dbOutages, interval, threshold) != expectNone {
			n++
		}
	}
	return n >= incidents.DefaultFlapCount-1
}

// expectAlerts says what a host's outage must bring, given the database's
// outages. Incidents neither open nor resolve without the database, but
// the engine counts failures in memory, so:
//   - an outage apart from the database's is alerted once: 1 + 1;
//   - an outage wholly inside one of the database's is not alerted at all:
//     nothing was recorded while the database was down (no result, no
//     incident, nothing on the status page), and the host was back before
//     anything could be; the storage.unreachable and storage.reachable
//     alerts say when checks went unrecorded;
//   - an outage that overlaps the database's must be alerted once when
//     the engine saw it fail threshold times in a row with the database up
//     for sure: it went down threshold intervals (and half an interval,
//     for the hand-over of a dead replica's hosts) before the database, or
//     was still down threshold intervals and a half after its return; it
//     is then resolved once too (after the return, if it came back
//     meanwhile). Shorter overlaps may or may not be: 1 + 1 or nothing.
func expectAlerts(host window, dbOutages []window, interval time.Duration, threshold int) expectation {
	seen := time.Duration(threshold)*interval + interval/2
	e := expectOne
	for _, o := range dbOutages {
		if !host.from.Before(o.to) || !o.from.Before(host.to) {
			continue // apart
		}
		if !host.from.Before(o.from) && !o.to.Before(host.to) {
			return expectNone
		}
		if o.from.Sub(host.from) < seen && host.to.Sub(o.to) < seen {
			e = expectEither
		}
	}
	return e
}

// judgeIncidentAlerts assigns each incident to the host outage it
// belongs to (the last outage of its targets' host to start before its
// first alert) and counts, per outage and channel, the distinct openings
// and resolutions and the re-sends, with what the outage must bring
// (expectAlerts). Incidents that belong to no outage
// are returned apart: alerts for nothing that happened.
func judgeIncidentAlerts(alerts []alert, outages, dbOutages []window, channels []string, interval time.Duration, threshold int, end time.Time) (per []outageAlerts, stray []alert) {
	per = make([]outageAlerts, len(outages))
	for i, o := range outages {
		e := expectAlerts(o, dbOutages, interval, threshold)
		if end.Before(resolvedBy(o.to, interval, mayFlap(outages, dbOutages, i, interval, threshold))) {
			e = e.late()
		}
		per[i] = outageAlerts{outage: o, expect: e, by: map[string]*alertCount{}}
		for _, c := range channels {
			per[i].by[c] = &alertCount{}
		}
	}
	sorted := slices.Clone(alerts)
	slices.SortStableFunc(sorted, func(a, b alert) int { return a.at.Compare(b.at) })
	owner := map[int64]int{} // incident → outage index, -1 for none
	seen := map[string]bool{}
	for _, a := range sorted {
		if !strings.HasPrefix(a.typ, "incident.") {
			continue
		}
		o, ok := owner[a.incident]
		if !ok {
			o = -1
			for i, w := range outages {
				if !w.from.After(a.at) && targetsOnHost(a.targets, w.what) {
					o = i
				}
			}
			owner[a.incident] = o
		}
		if o < 0 {
			stray = append(stray, a)
			continue
		}
		c := per[o].by[a.channel]
		if c == nil {
			c = &alertCount{}
			per[o].by[a.channel] = c
		}
		if !slices.Contains(c.incidents, a.incident) {
			c.incidents = append(c.incidents, a.incident)
		}
		key := a.channel + " " + a.id
		if seen[key] {
			c.resent++
			continue
		}
		seen[key] = true
		switch a.typ {
		case "incident.opened":
			c.opened++
		case "incident.resolved":
			c.resolved++
		}
	}
	return per, stray
}

func targetsOnHost(targets []string, host string) bool {
	for _, t := range targets {
		if u, err := url.Parse(t); err == nil && u.Hostname() == host {
			return true
		}
	}
	return false
}

// storageCount is what one channel got from one replica for one
// database outage.
type storageCount struct {
	unreachable, reachable, resent int
}

// judgeStorageAlerts counts, per database outage, channel and replica,
// the storage.* alerts that came after the outage began (the last one
// to begin before the alert).
func judgeStorageAlerts(alerts []alert, outages []window) []map[string]map[string]*storageCount {
	per := make([]map[string]map[string]*storageCount, len(outages))
	for i := range per {
		per[i] = map[string]map[string]*storageCount{}
	}
	seen := map[string]bool{}
	for _, a := range alerts {
		if !strings.HasPrefix(a.typ, "storage.") {
			continue
		}
		o := -1
		for i, w := range outages {
			if !w.from.After(a.at) {
				o = i
			}
		}
		if o < 0 {
			continue
		}
		if per[o][a.channel] == nil {
			per[o][a.channel] = map[string]*storageCount{}
		}
		c := per[o][a.channel][a.replica]
		if c == nil {
			c = &storageCount{}
			per[o][a.channel][a.replica] = c
		}
		key := a.channel + " " + a.id
		if seen[key] {
			c.resent++
			continue
		}
		seen[key] = true
		switch a.typ {
		case "storage.unreachable":
			c.unreachable++
		case "storage.reachable":
			c.reachable++
		}
	}
	return per
}

// redirect is one redirect of the load.
type redirect struct {
	at      time.Time
	latency time.Duration
	replica int    // the replica that answered last, -1 for none
	err     string // empty when it was a redirect
	retried int    // replicas that refused the connection before
	cut     int    // replicas that cut the connection before answering
}

// loadFigures summarizes the redirects sent within some windows (in) or
// outside all of them.
func loadFigures(rs []redirect, windows []window, in bool) (n, failed int, rate float64, p99 time.Duration) {
	var lat []time.Duration
	var span time.Duration
	inside := func(t time.Time) bool {
		for _, w := range windows {
			if !t.Before(w.from) && t.Before(w.to) {
				return true
			}
		}
		return false
	}
	for _, r := range rs {
		if inside(r.at) != in {
			continue
		}
		n++
		if r.err != "" {
			failed++
			continue
		}
		lat = append(lat, r.latency)
	}
	if in {
		for _, w := range windows {
			span += w.to.Sub(w.from)
		}
	} else if len(rs) > 0 {
		span = rs[len(rs)-1].at.Sub(rs[0].at)
		for _, w := range windows {
			span -= w.to.Sub(w.from)
		}
	}
	if span > 0 {
		rate = float64(len(lat)) / span.Seconds()
	}
	slices.Sort(lat)
	return n, failed, rate, quantile(lat, 0.99)
}

// rel prints a time as the offset from the run's start.
func rel(start, t time.Time) string {
	return t.Sub(start).Round(100 * time.Millisecond).String()
}

// printSome prints at most n lines of a list, and how many it left out.
func printSome[T any](w io.Writer, items []T, n int, line func(T) string) {
	for i, it := range items {
		if i == n {
			fmt.Fprintf(w, "      ... and %d more\n", len(items)-n)
			return
		}
		fmt.Fprintln(w, "      "+line(it))
	}
}

// unjudgedAlerts counts the deliveries by type that neither judge
// knows: a newer linkwatch's events are reported, never a missed goal.
func unjudgedAlerts(alerts []alert) map[string]int {
	n := map[string]int{}
	for _, a := range alerts {
		switch a.typ {
		case "incident.opened", "incident.updated", "incident.resolved", "storage.unreachable", "storage.reachable":
		default:
			n[a.typ]++
		}
	}
	return n
}
