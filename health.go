package linkwatch

// LinkHealth is what one link's visitors meet now, as the incident engine
// decided it from its open incidents and maintenance windows.
type LinkHealth struct {
	Page string
	Link string
	// Down: the link's destination fails in an open incident that is down
	// for visitors (not merely degraded).
	Down bool
	// Fallback, when set, is where the link's visitors are being sent
	// instead of its destination.
	Fallback string
}

// Health is the links that are not healthy, as the open incidents recorded
// them, sorted by page and link; a link it does not name is healthy. The
// engine publishes it, the hub redirects by it, and the self-checks
// compare the hub's redirects with it. A published Health is never
// changed.
type Health struct {
	Links []LinkHealth
}
