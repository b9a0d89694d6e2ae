package hub

import "maps"

// LinkHealth is what a link's visitors meet now, as the incident engine
// decided it from its open incidents and maintenance windows.
type LinkHealth struct {
	// Down: the link's destination fails in an open incident that is down
	// for visitors (not merely degraded).
	Down bool
	// Fallback, when set, is where the link's visitors are being sent
	// instead of its destination.
	Fallback string
}

// Health is an immutable view of every link's health: the hub swaps a new
// one in (SetHealth) and never reads the database for it. A link it does
// not name is healthy.
type Health struct {
	links map[LinkKey]LinkHealth
}

// NewHealth returns a Health naming the links in links (copied).
func NewHealth(links map[LinkKey]LinkHealth) *Health {
	return &Health{links: maps.Clone(links)}
}

// Link returns the health of the link named by key.
func (h *Health) Link(key LinkKey) LinkHealth {
	if h == nil {
		return LinkHealth{}
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
