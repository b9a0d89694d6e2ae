package hub

import "linkwatch"

// Health is an immutable view of every link's health: the hub swaps a new
// one in (ObserveHealth) and never reads the database for it. A link it
// does not name is healthy.
type Health struct {
	links map[LinkKey]linkwatch.LinkHealth
}

// newHealth indexes h by link.
func newHealth(h linkwatch.Health) *Health {
	links := make(map[LinkKey]linkwatch.LinkHealth, len(h.Links))
	for _, l := range h.Links {
		links[LinkKey{Page: l.Page, Link: l.Link}] = l
	}
	return &Health{links: links}
}

// Link returns the health of the link named by key.
func (h *Health) Link(key LinkKey) linkwatch.LinkHealth {
	if h == nil {
		return linkwatch.LinkHealth{}
	}
	return h.links[key]
}

// divertedTo returns where l's visitors go: its fallback while the health
// says so and the fallback is still the one configured (a reload may have
// changed it since the health was made), otherwise its destination.
func (h *Health) divertedTo(l *Link) (string, bool) {
	if l.Fallback == "" || h == nil {
		return l.URL, false
	}
	if h.links[l.key].Fallback == l.Fallback {
		return l.Fallback, true
	}
	return l.URL, false
}

// mayBeUnavailable reports whether l's page should warn that its
// destination may be unavailable: it is down and visitors are not on its
// fallback.
func (h *Health) mayBeUnavailable(l *Link) bool {
	if !h.Link(l.key).Down {
		return false
	}
	_, diverted := h.divertedTo(l)
	return !diverted
}
