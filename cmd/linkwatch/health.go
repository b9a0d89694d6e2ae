package main

import (
	"sync"
	"time"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/incidents"
)

// hubHealth passes the incident engine's link health to the hub, which
// does not import incidents, and to the self-checks (diversions), which
// compare the hub's redirects with it.
type hubHealth struct {
	hub        *hub.Server
	diversions *diversions
}

func (h hubHealth) ObserveHealth(in incidents.Health) {
	links := make(map[hub.LinkKey]hub.LinkHealth, len(in.Links))
	for _, l := range in.Links {
		links[hub.LinkKey{Page: l.Page, Link: l.Link}] = hub.LinkHealth{Down: l.Down, Fallback: l.Fallback}
	}
	h.diversions.observe(in, func() { h.hub.SetHealth(hub.NewHealth(links)) })
}

// diversions are the links the incident engine sends to their fallback,
// as the self-checks see them: a self-check accepts the hub's redirect to
// a link's fallback only if the link was diverted at some time during the
// check, so a hub that sends visitors to a fallback while the destination
// is up is caught (hub_redirect_wrong).
type diversions struct {
	now func() time.Time
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

func newDiversions(keep time.Duration) *diversions {
	return &diversions{now: time.Now, keep: keep, links: map[string]diversion{}}
}

// observe takes in the engine's new health around swap, which hands it to
// the hub: a link newly diverted counts from before the hub sends anyone
// to its fallback, and a link sent back counts until after the hub stopped,
// so no self-check sees the hub ahead of what it is compared with.
func (d *diversions) observe(in incidents.Health, swap func()) {
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
	swap()
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
// at some time since since (a self-check's start): checker.Options.Diverted.
func (d *diversions) Diverted(t linkwatch.Target, since time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, ok := d.links[t.ID]
	return ok && cur.fallback == t.AltLocation && (cur.until.IsZero() || !cur.until.Before(since))
}
