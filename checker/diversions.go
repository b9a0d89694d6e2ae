package checker

import (
	"sync"
	"time"

	"linkwatch"
)

// HealthObserver is told the links' health whenever the incident engine
// publishes a new one: the hub, which redirects by it.
type HealthObserver interface {
	ObserveHealth(linkwatch.Health)
}

// Diversions are the links the incident engine sends to their fallback,
// as the self-checks see them: a self-check accepts the hub's redirect to
// a link's fallback only if the link was diverted at some time during the
// check (Options.Diverted), so a hub that sends visitors to a fallback
// while the destination is up is caught (hub_redirect_wrong).
//
// It stands between the engine and the hub: the engine's health passes
// through it (ObserveHealth) to the hub, so it knows of each diversion
// from before the hub acts on it until after the hub stopped.
type Diversions struct {
	next HealthObserver
	now  func() time.Time
	// keep is how long a diversion that ended is remembered: longer than
	// any check lasts (probe.interval, above probe.timeout).
	keep time.Duration

	mu    sync.Mutex
	links map[string]diversion // by self-check target id
}

// diversion is one link sent to its fallback, until a time once it ended.
type diversion struct {
	fallback string
	until    time.Time // zero while it lasts
}

// NewDiversions returns the diversions of the health passed on to next,
// an ended one remembered for keep.
func NewDiversions(keep time.Duration, next HealthObserver) *Diversions {
	return &Diversions{next: next, now: time.Now, keep: keep, links: map[string]diversion{}}
}

// SetClock replaces the diversions' clock (time.Now): the checker's, whose
// results' start times Diverted compares with. Call it before any health
// is observed.
func (d *Diversions) SetClock(now func() time.Time) { d.now = now }

// ObserveHealth takes in the engine's new health around handing it to the
// next observer: a link newly diverted counts from before the hub sends
// anyone to its fallback, and a link sent back counts until after the hub
// stopped, so no self-check sees the hub ahead of what it is compared with.
func (d *Diversions) ObserveHealth(in linkwatch.Health) {
	now := make(map[string]string, len(in.Links))
	for _, l := range in.Links {
		if l.Fallback != "" {
			now[linkwatch.SelfCheckID(l.Page, l.Link)] = l.Fallback
		}
	}
	d.mu.Lock()
	for id, fb := range now {
		if cur, ok := d.links[id]; !ok || cur.fallback != fb || !cur.until.IsZero() {
			d.links[id] = diversion{fallback: fb}
		}
	}
	d.mu.Unlock()
	d.next.ObserveHealth(in)
	d.mu.Lock()
	defer d.mu.Unlock()
	at := d.now()
	for id, cur := range d.links {
		switch {
		case now[id] != "":
		case cur.until.IsZero():
			d.links[id] = diversion{fallback: cur.fallback, until: at}
		case at.Sub(cur.until) > d.keep:
			delete(d.links, id) // no check still running began before it ended
		}
	}
}

// Diverted reports whether the engine sent t's visitors to t.AltLocation
// at some time since since (a self-check's start): Options.Diverted.
func (d *Diversions) Diverted(t linkwatch.Target, since time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, ok := d.links[t.ID]
	return ok && cur.fallback == t.AltLocation && (cur.until.IsZero() || !cur.until.Before(since))
}
