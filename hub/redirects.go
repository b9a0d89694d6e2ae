package hub

import (
	"net/http"
	"sync/atomic"
	"time"
)

// RedirectOutcome is what a visitor's request for a short link
// (/{page}/{link}) got.
type RedirectOutcome uint8

const (
	// RedirectDestination is a 302 to the link's URL.
	RedirectDestination RedirectOutcome = iota
	// RedirectFallback is a 302 to the link's fallback: its destination
	// is down.
	RedirectFallback
	// RedirectNotFound is the 404 page: no such page or link.
	RedirectNotFound

	redirectOutcomes // how many there are
)

// RedirectOutcomes are every outcome, for an exporter to list.
var RedirectOutcomes = [redirectOutcomes]RedirectOutcome{RedirectDestination, RedirectFallback, RedirectNotFound}

// String names the outcome as metrics label it.
func (o RedirectOutcome) String() string {
	switch o {
	case RedirectDestination:
		return "destination"
	case RedirectFallback:
		return "fallback"
	case RedirectNotFound:
		return "not_found"
	}
	return "unknown"
}

// RedirectTimer is told how long each visitor's short-link request took
// the hub to answer. It is called on the redirect path: it must neither
// allocate nor block (a Prometheus histogram's Observe does neither).
type RedirectTimer interface {
	ObserveRedirect(o RedirectOutcome, took time.Duration)
}

// redirectStats are the visitors' short-link requests answered, by
// outcome, and the timer told of each.
type redirectStats struct {
	count [redirectOutcomes]atomic.Int64
	timer RedirectTimer // nil: not timed
	// epoch is a monotonic origin: a request's start and end are each
	// one read of the monotonic clock since it (time.Since), where
	// time.Now would read the wall clock too.
	epoch time.Time
}

// start returns when a request starts, since the epoch; the clock is read
// only for a timer.
func (rs *redirectStats) start() time.Duration {
	if rs.timer == nil {
		return 0
	}
	return time.Since(rs.epoch)
}

// done counts a request begun at start with its outcome, and times it.
func (rs *redirectStats) done(o RedirectOutcome, start time.Duration) {
	rs.count[o].Add(1)
	if rs.timer != nil {
		rs.timer.ObserveRedirect(o, time.Since(rs.epoch)-start)
	}
}

// SetRedirectTimer sets what times the visitors' short-link requests. Set
// it before serving.
func (s *Server) SetRedirectTimer(t RedirectTimer) {
	s.redirects.timer, s.redirects.epoch = t, time.Now()
}

// Redirects returns how many of the visitors' short-link requests had
// outcome o, since the start (HEAD requests included, the prober's
// self-checks not: the figure is what visitors got).
func (s *Server) Redirects(o RedirectOutcome) int64 {
	if o >= redirectOutcomes {
		return 0
	}
	return s.redirects.count[o].Load()
}

// serveLink answers a short link: its 302 (to the destination, or to its
// fallback while it is down) or the 404 page. A visitor's request is
// counted by outcome and timed; a self-check is neither, nor a click.
func (s *Server) serveLink(w http.ResponseWriter, r *http.Request, c *Catalog, rt route) {
	start := s.redirects.start()
	visitor := !s.IsSelfCheck(r)
	outcome := RedirectNotFound
	if p, ok := c.Page(rt.page); ok {
		if l, ok := p.Link(rt.link); ok {
			outcome = s.redirect(w, r, l, visitor)
		}
	}
	if outcome == RedirectNotFound {
		s.NotFound(w, r)
	}
	if visitor {
		s.redirects.done(outcome, start)
	}
}
