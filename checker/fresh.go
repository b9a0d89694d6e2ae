package checker

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// FreshAlways, as Options.FreshEvery, makes every check fresh: no
// connection is ever reused.
const FreshAlways time.Duration = -1

// conns is the connections the checks of one host share, in generations.
// A fresh check gets a transport of its own, so every connection it makes
// is new: DNS resolved again, TCP connected, TLS handshake verified (the
// transports keep no TLS session cache, so there is no resumption either).
// When it succeeds, its transport becomes the generation that later checks
// reuse, and the previous generation's idle connections are closed. So no
// check runs over a connection opened before the host's last fresh check,
// and a fresh check comes at least every FreshEvery.
//
// A per-host transport, rather than one shared by every host, is what
// lets a failure close that host's idle connections and no one else's.
type conns struct {
	newTransport func() *http.Transport
	every        time.Duration // FreshAlways: every check is fresh
	budget       *keepBudget   // nil: unbounded (the hub's own self-checks)
	// spread shortens a host's first generation by a stable amount of its
	// own, so hosts first checked together (at start) do not all renew in
	// the same interval ever after: a wave of handshakes every fresh_every.
	spread time.Duration

	mu      sync.Mutex
	current *http.Transport // nil: the next check is fresh
	freshAt time.Time       // when the check that opened current began (less the spread, for a first one)
	gen     uint64          // bumped whenever current changes
}

// lease is one check's use of a host's connections.
type lease struct {
	transport *http.Transport
	fresh     bool
	gen       uint64
	started   time.Time
}

// take returns the transport a check starting at now uses.
func (p *conns) take(now time.Time) lease {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil || p.every < 0 || now.Sub(p.freshAt) >= p.every || now.Before(p.freshAt) {
		return lease{transport: p.newTransport(), fresh: true, gen: p.gen, started: now}
	}
	return lease{transport: p.current, gen: p.gen, started: now}
}

// give returns a lease after its check. failed is any result but up: the
// host's idle connections are closed, so the check that confirms or clears
// the failure is fresh too.
func (p *conns) give(l lease, failed bool) {
	p.mu.Lock()
	var retire []*http.Transport
	switch {
	case failed:
		p.drop(&retire)
	case l.fresh && p.every >= 0 && l.gen == p.gen && (p.current != nil || p.budget.take()):
		// Nothing changed since this check began: its connections are the
		// freshest the host has.
		retire = append(retire, p.current)
		if p.current == nil {
			p.freshAt = l.started.Add(-p.spread)
		} else {
			p.freshAt = l.started
		}
		p.current = l.transport
		p.gen++
		p.mu.Unlock()
		closeIdle(retire...)
		return
	}
	if l.transport != p.current {
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
	p.gen++
}

// keepBudget bounds how many hosts keep connections between checks. Each
// costs a descriptor or two and some 40-60 KiB of memory (the transport's
// goroutines, buffers, TLS and HTTP/2 state); a host past the bound is
// checked fresh every time instead, trading CPU for that memory.
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
