package checker

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// conns is the connections the checks of one host share, in generations.
// A fresh check gets a transport of its own, so every connection it makes
// is new: DNS resolved again, TCP connected, TLS handshake full and
// verified (its transport never resumes a TLS session). When it succeeds,
// its transport becomes the generation that later checks reuse, and the
// previous generation's idle connections are closed. So no check runs over
// a connection opened before the host's last fresh check, and a fresh
// check comes at least every FreshEvery.
//
// A fresh check offers HTTP/2, as a browser does. When the server takes it,
// the generation kept is not the fresh check's connection but a transport
// of HTTP/1.1 with small buffers (newKept), whose first connection resumes
// the session the fresh check verified: the fresh check has proved what a
// browser gets, and an idle HTTP/2 connection holds about twice the live
// heap of an HTTP/1.1 one with small buffers (its buffers of 4 KiB each
// way, the framer's, HPACK tables, the HTTP/2 pool's entries), some 20 KiB
// of RSS more (BENCHMARKS.md), though the HTTP/1.1 one has two
// goroutines. Over HTTP/1.1 the fresh check's own connection is kept.
//
// A host with no place in the keep-alive budget keeps no generation: its
// checks between fresh ones go over the shared one-shot transport, whose
// new connections may resume the TLS session of an earlier check
// (resume.go), so the certificate they rely on is still the one the host's
// last fresh check verified.
//
// A per-host transport, rather than one shared by every host, is what
// lets a failure close that host's idle connections and no one else's.
type conns struct {
	newTransport func() *http.Transport // a fresh check's
	// newKept is the generation kept after a fresh check over HTTP/2;
	// fullOffer: it offers a browser's key shares.
	newKept     func(fullOffer bool) *http.Transport
	oneShot     *http.Transport // shared: the checks between fresh ones when no generation is kept
	oneShotFull *http.Transport // shared: the same, offering a browser's key shares
	every       time.Duration   // zero: every check is fresh
	budget      *keepBudget     // nil: unbounded (the hub's own self-checks)
	// periodsFrom places the host's renewals in time: a check is fresh if
	// it is the first in a new period of every counted from periodsFrom (or
	// if every has passed since the last fresh one). periodsFrom is the
	// checker's start, shifted by a stable phase of the host's own, so
	// hosts renew spread over every whenever their last fresh check
	// happened: after a start, when every host's first check is fresh, or
	// after the prober fell behind, renewals do not come in a wave every
	// fresh_every.
	periodsFrom time.Time

	mu      sync.Mutex
	current *http.Transport // the kept generation; nil: none kept
	// freshAt is when the host's last successful fresh check began; zero:
	// the next check is fresh.
	freshAt time.Time
	gen     uint64 // bumped whenever current or freshAt changes
	// fullOffer: the host refused a one-shot check's reduced key-share
	// offer; its one-shot checks offer what a browser does.
	fullOffer bool
}

// lease is one check's use of a host's connections.
type lease struct {
	transport *http.Transport
	fresh     bool
	oneShot   bool // transport is the shared one-shot one
	kept      bool // transport is the host's kept generation
	gen       uint64
	started   time.Time
	// h2: a connection of the check spoke HTTP/2. Set by the check.
	h2 bool
}

// take returns the transport a check starting at now uses.
func (p *conns) take(now time.Time) lease {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := lease{gen: p.gen, started: now}
	due := p.due(now)
	switch {
	case !due && p.current != nil:
		l.transport, l.kept = p.current, true
	case !due && p.oneShot != nil && p.budget.full():
		l.transport, l.oneShot = p.oneShot, true
		if p.fullOffer {
			l.transport = p.oneShotFull
		}
	default:
		// Due, or a place in the budget has come free: a fresh check can
		// take it.
		l.transport, l.fresh = p.newTransport(), true
	}
	return l
}

// due reports whether a check starting at now must be fresh. p.mu is held.
func (p *conns) due(now time.Time) bool {
	switch {
	case p.every <= 0 || p.freshAt.IsZero() || now.Before(p.freshAt) || now.Sub(p.freshAt) >= p.every:
		return true
	}
	return p.period(now) != p.period(p.freshAt)
}

// period numbers the host's renewal periods.
func (p *conns) period(t time.Time) time.Duration {
	return t.Sub(p.periodsFrom) / p.every
}

// give returns a lease after its check. failed is any result but up: the
// host's idle connections are closed, so the check that confirms or clears
// the failure is fresh too. refused: the host refused the reduced
// key-share offer of a one-shot or kept transport.
func (p *conns) give(l lease, failed, refused bool) {
	p.mu.Lock()
	var retire []*http.Transport
	if refused {
		p.fullOffer = true
	}
	switch {
	case failed:
		p.drop(&retire)
	case l.fresh && p.every >= 0 && l.gen == p.gen:
		// Nothing changed since this check began: its connections are the
		// freshest the host has.
		p.freshAt = l.started
		p.gen++
		if p.current != nil || p.budget.take() {
			retire = append(retire, p.current)
			p.current = l.transport
			if l.h2 && p.newKept != nil {
				p.current = p.newKept(p.fullOffer)
			}
		}
	}
	if l.transport != p.current && !l.oneShot {
		retire = append(retire, l.transport) // a generation no check will use again
	}
	p.mu.Unlock()
	closeIdle(retire...)
}

// reset closes the idle connections of the current generation and makes
// the next check fresh.
func (p *conns) reset() {
	var retire []*http.Transport
	p.mu.Lock()
	p.drop(&retire)
	p.mu.Unlock()
	closeIdle(retire...)
}

// resetIfAbandoned resets the host's connections when no fresh check has
// renewed them since before, so a host no longer checked gives its place
// in the budget back.
func (p *conns) resetIfAbandoned(before time.Time) {
	var retire []*http.Transport
	p.mu.Lock()
	if p.current != nil && p.freshAt.Before(before) {
		p.drop(&retire)
	}
	p.mu.Unlock()
	closeIdle(retire...)
}

// drop makes the next check fresh and gives the host's place in the budget
// back. p.mu is held.
func (p *conns) drop(retire *[]*http.Transport) {
	if p.current != nil {
		*retire = append(*retire, p.current)
		p.current = nil
		p.budget.give()
	}
	p.freshAt = time.Time{}
	p.gen++
}

// keepBudget bounds how many hosts keep connections between checks. Each
// costs a descriptor or two and some 50 KiB of memory (the transport, its
// connection's two goroutines and buffers, TLS state); a host past the
// bound opens a connection per check instead (resuming TLS sessions
// between fresh checks), trading CPU for that memory.
type keepBudget struct {
	max  int64
	used atomic.Int64
}

func (b *keepBudget) take() bool {
	if b == nil {
		return true
	}
	if b.used.Add(1) > b.max {
		b.used.Add(-1)
		return false
	}
	return true
}

func (b *keepBudget) give() {
	if b != nil {
		b.used.Add(-1)
	}
}

func (b *keepBudget) full() bool { return b != nil && b.used.Load() >= b.max }

// closeIdle closes the idle connections of transports no longer handed
// out. A connection is back in its pool by the time its check has read the
// body, so none is left behind.
func closeIdle(ts ...*http.Transport) {
	for _, t := range ts {
		if t != nil {
			t.CloseIdleConnections()
		}
	}
}
