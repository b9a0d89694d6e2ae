package incidents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"linkwatch"
)

// HealthObserver is told the links' health whenever it changes, after the
// change that made it so is in the database: the hub's redirects and pages
// follow it from memory.
type HealthObserver interface {
	ObserveHealth(linkwatch.Health)
}

// downForVisitors reports whether the targets failing in inc are down for
// the people following the links: an open incident about destinations (not
// the hub's redirects, not our own prober), down rather than degraded.
// Targets held back while the prober's network is unproven never open one.
func downForVisitors(inc *linkwatch.Incident) bool {
	return inc != nil && inc.Open() && (inc.Kind == linkwatch.KindDestination || inc.Kind == linkwatch.KindHost) &&
		(inc.Impact == linkwatch.ImpactMajor || inc.Impact == linkwatch.ImpactCritical)
}

// divert is the switch rule: a link's visitors go to its fallback while
// its destination fails in an incident that is down for visitors, no
// maintenance window covers that incident, our prober's network is not
// down (then nothing it sees can be trusted), and the fallback is not down
// itself. It returns, when not diverting a down link, why not.
func divert(dest *linkwatch.Incident, fallback string, muted, proberOffline bool, fallbackIn *linkwatch.Incident) (bool, string) {
	switch {
	case !downForVisitors(dest):
		return false, "its destination is no longer down"
	case fallback == "":
		return false, "it has no fallback any more"
	case proberOffline:
		return false, "the prober's own network is down, so link health is unknown"
	case muted:
		return false, "a maintenance window covers the incident"
	case downForVisitors(fallbackIn):
		return false, "its fallback " + fallback + " is down too"
	}
	return true, ""
}

// fallbackOf returns the fallback the configuration gives link a now.
func (e *Engine) fallbackOf(a linkwatch.Affected) string {
	for _, d := range e.dependents(a.URL) {
		if d.Page == a.Page && d.Link == a.Link && d.URL == a.URL {
			return d.Fallback
		}
	}
	return ""
}

// failingIn returns the incident target fails in, as it stands in memory.
// A target another replica checks fails in the open incident that lists
// it, as that replica recorded it.
func (e *Engine) failingIn(target string) *linkwatch.Incident {
	if !e.owned(target) {
		lists := func(inc *linkwatch.Incident) bool {
			return (inc.Kind == linkwatch.KindDestination || inc.Kind == linkwatch.KindHost || inc.Kind == linkwatch.KindHub) && slices.Contains(inc.Targets, target)
		}
		for _, inc := range e.open {
			if lists(inc) {
				return inc
			}
		}
		for _, inc := range e.others {
			if lists(inc) {
				return inc
			}
		}
		return nil
	}
	if ts := e.targets[target]; ts != nil {
		return ts.incident
	}
	return nil
}

// observed reports whether the engine has had a result of target since it
// started, rather than assuming it fails from an open incident.
func (e *Engine) observed(target string) bool {
	ts := e.targets[target]
	return ts != nil && ts.kind != ""
}

// as returns a view of failingIn in which the change being made to old is
// already applied: old is next, and target extra (joining) fails in next.
func (e *Engine) as(old, next *linkwatch.Incident, extra string) func(string) *linkwatch.Incident {
	return func(target string) *linkwatch.Incident {
		if target == extra {
			return next
		}
		if in := e.failingIn(target); in != old || old == nil {
			return in
		}
		return next
	}
}

// switchFallbacks sets the Diverted flags of next's links as the switch
// rule decides now, in returning the incident each target fails in, and
// returns the timeline events of the links it switched.
func (e *Engine) switchFallbacks(ctx context.Context, now time.Time, next *linkwatch.Incident, in func(string) *linkwatch.Incident) []linkwatch.Event {
	var ev []linkwatch.Event
	mutedKnown, muted := false, false
	for i := range next.Affected {
		a := &next.Affected[i]
		fb := e.fallbackOf(*a)
		if fb == "" && !a.Diverted {
			continue
		}
		if !e.observed(a.URL) && fb == a.Fallback {
			// After a restart the database's record stands until the prober
			// has seen the destination again: it may have recovered within
			// a host incident that is still open.
			continue
		}
		on, why := false, ""
		if in(a.URL) != next {
			why = "its destination answers again"
		} else {
			if !mutedKnown && downForVisitors(next) && fb != "" {
				muted, mutedKnown = e.muted(ctx, now, next), true
			}
			on, why = divert(next, fb, muted, e.open[e.proberKey] != nil, in(fb))
		}
		link := a.Page + "/" + a.Link
		switch {
		case on && (!a.Diverted || a.Fallback != fb):
			a.Diverted, a.Fallback = true, fb
			ev = append(ev, linkwatch.Event{At: now, Kind: linkwatch.EventFallbackOn, Body: fmt.Sprintf("fallback on: visitors of %s are being sent to %s", link, fb)})
		case !on && a.Diverted:
			a.Diverted = false
			ev = append(ev, linkwatch.Event{At: now, Kind: linkwatch.EventFallbackOff, Body: fmt.Sprintf("fallback off: visitors of %s go to %s again: %s", link, a.URL, why)})
		}
	}
	return ev
}

// syncFallbacks records the fallback switches that changes elsewhere made
// due (a fallback failing or answering again, a maintenance window, a
// reload), each as an update of its incident, and then tells the observer
// the links' health. It runs after every change, and at least every
// maintenanceTTL while incidents are open, so a window's start or end
// switches within a second of the next result.
func (e *Engine) syncFallbacks(ctx context.Context) error {
	now := e.now().UTC()
	if !e.changed && len(e.open) == 0 && e.health != nil {
		return nil
	}
	if !e.changed && now.Sub(e.synced) < maintenanceTTL && !now.Before(e.synced) {
		return nil
	}
	e.changed, e.synced = false, now
	var errs []error
	for _, inc := range e.openIncidents() {
		if !e.ownsIncident(inc) {
			continue // its replica switches its links
		}
		next := *inc
		next.Affected = slices.Clone(inc.Affected)
		ev := e.switchFallbacks(ctx, now, &next, e.as(inc, &next, ""))
		if len(ev) == 0 {
			continue
		}
		next.UpdatedAt = now
		c := Change{Incident: next, Events: ev}
		e.alert(ctx, &c, linkwatch.AlertUpdated, linkwatch.ReasonFallback, now, nil)
		if err := e.apply(ctx, inc, c, "switch fallbacks"); err != nil {
			errs = append(errs, err)
			e.changed = true // retried with the next result
		}
	}
	e.publish()
	return errors.Join(errs...)
}

// publish tells the observer the links' health as the open incidents in
// memory (which are as the database has them) record it, when it changed.
func (e *Engine) publish() {
	var links []linkwatch.LinkHealth
	add := func(inc *linkwatch.Incident, held bool) {
		if !downForVisitors(inc) {
			return
		}
		for _, a := range inc.Affected {
			if held && e.failingIn(a.URL) != inc {
				continue // the link's fallback fails here, or its destination recovered
			}
			if !held && !slices.Contains(inc.Targets, a.URL) {
				continue // only the link's fallback fails in it
			}
			lh := linkwatch.LinkHealth{Page: a.Page, Link: a.Link, Down: true}
			if a.Diverted {
				lh.Fallback = a.Fallback
			}
			links = append(links, lh)
		}
	}
	for _, inc := range e.open {
		add(inc, true)
	}
	// Incidents another replica or region decides about, as it recorded them.
	for _, inc := range e.others {
		add(inc, false)
	}
	slices.SortFunc(links, func(a, b linkwatch.LinkHealth) int {
		return strings.Compare(a.Page+"\x00"+a.Link, b.Page+"\x00"+b.Link)
	})
	links = slices.Compact(links)
	if e.health != nil && slices.Equal(e.health.Links, links) {
		return
	}
	e.health = &linkwatch.Health{Links: links}
	if e.observer != nil {
		e.observer.ObserveHealth(*e.health)
	}
}

// SetHealthObserver sets who is told the links' health. Call it before Run.
func (e *Engine) SetHealthObserver(o HealthObserver) { e.observer = o }
