// Package checker checks one target at a time and says why it failed: every
// check returns a linkwatch.Result, and a down destination is a Result with
// a Cause, never a Go error. It also schedules the checks.
package checker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"linkwatch"
)

// SelfCheckHeader marks the prober's requests for the hub's own short links,
// which the hub must not count as clicks. It has the same value as
// hub.SelfCheckHeader; checker does not import hub.
const SelfCheckHeader = "X-Linkwatch-Self-Check"

// maxResponseHeaderBytes bounds a destination's response headers.
const maxResponseHeaderBytes = 64 << 10

// DefaultUserAgent is browser-like, so sites serve what a visitor gets, and
// honest, so an operator can tell who is calling.
const DefaultUserAgent = "Mozilla/5.0 (compatible; linkwatch/1.0; link health monitor)"

// The defaults of the options probe.* sets: the config applies them, and
// New where an option is left zero.
const (
	DefaultTimeout            = 8 * time.Second
	DefaultPerHostConcurrency = 2
	DefaultSlowThreshold      = time.Second
	DefaultFreshEvery         = time.Minute
	DefaultTLSWarn            = 14 * 24 * time.Hour
	DefaultKeepAliveHosts     = 8192
)

// Options configure a Checker. Zero values take the defaults, except
// FreshEvery, where zero is a value: every check fresh.
type Options struct {
	Timeout            time.Duration  // whole check, every hop (default DefaultTimeout; keep it below the interval)
	UserAgent          string         // default DefaultUserAgent
	AllowPrivate       []netip.Prefix // exempt from the SSRF guard
	MaxBodyBytes       int64          // body bytes read at most (default 256 KiB)
	MaxRedirects       int            // default 10
	PerHostConcurrency int            // requests in flight per host (default DefaultPerHostConcurrency)
	SlowThreshold      time.Duration  // a self-check slower than this is hub_slow (default DefaultSlowThreshold)
	HEADFirst          bool           // try HEAD, fall back to GET on 405/403/501
	Resolver           Resolver       // default net.DefaultResolver
	// SelfCheckToken is sent in the self-check header, so the hub can tell
	// its own prober from a client that merely sets the header.
	SelfCheckToken string
	RootCAs        *x509.CertPool // default: the system's
	// Diverted reports whether, at any time since since, the hub may have
	// sent the visitors of a self-checked link to its fallback
	// (Target.AltLocation): the incident engine diverts a link while its
	// destination is down. A self-check accepts the fallback only then, so
	// a hub sending visitors to a fallback while their destination is up is
	// hub_redirect_wrong. nil: never diverted.
	Diverted func(t linkwatch.Target, since time.Time) bool
	// FreshEvery is how often, at least, the checks of a host reach it as
	// a new visitor does: DNS resolved again, a new connection, a full
	// verified TLS handshake (probe.fresh_every, DefaultFreshEvery; zero:
	// every check).
	// Checks in between may reuse connections, which a kept-alive
	// connection to a host whose certificate, DNS or listener has since
	// changed would hide; any failure makes the next check fresh.
	FreshEvery time.Duration
	// KeepAliveHosts is how many hosts at most keep connections between
	// checks (default DefaultKeepAliveHosts): each costs a descriptor and some 50 KiB.
	// Past it, a host's checks between fresh ones open a connection each,
	// resuming the TLS session of its last fresh check: more CPU, no more
	// memory.
	KeepAliveHosts int
	// TLSWarn: a certificate of the verified chain expiring sooner than
	// this makes an otherwise healthy check degraded, cause tls_expiring
	// (default DefaultTLSWarn).
	TLSWarn time.Duration
	// Now is the clock of results' start times, Retry-After, freshness
	// and certificate validity (default time.Now).
	Now func() time.Time
}

// Checker checks targets. It is safe for concurrent use and keeps
// connections alive between checks, within Options.FreshEvery.
type Checker struct {
	opts      Options
	freshTLS  *tls.Config // fresh checks, and connections kept from them
	resumeTLS *tls.Config // the connections between fresh checks: one-shot, or kept after an HTTP/2 fresh one
	// resumeFullTLS is resumeTLS with a browser's key-share offer, for the
	// hosts that refused resumeCurves.
	resumeFullTLS *tls.Config
	dial          func(context.Context, string, string) (net.Conn, error) // destinations: SSRF-guarded
	selfDial      func(context.Context, string, string) (net.Conn, error) // the hub's own public URL: trusted, not guarded
	self          *conns
	oneShot       *http.Transport // destinations keeping no connection, between fresh checks
	// oneShotFull is oneShot with a browser's key-share offer, for the
	// hosts that refused resumeCurves.
	oneShotFull *http.Transport
	budget      *keepBudget

	started time.Time // when renewal periods begin (conns.periodsFrom)

	mu    sync.Mutex
	hosts map[string]*hostState
	// backoffs holds, per server (host and port: serverOf), until when it
	// asked us with a 429's Retry-After to stay away. Another port of the
	// host is another server, which asked nothing.
	backoffs map[string]time.Time
	// sweptAt is when abandoned hosts were last swept (Unix ns): read
	// without mu by every check, which sweeps when it is due.
	sweptAt atomic.Int64
}

// hostState is what the checker remembers per destination host.
type hostState struct {
	sem    chan struct{} // bounds requests in flight to the host
	conns  *conns        // checks starting at this host, and their redirect hops
	usedAt time.Time     // when a check last asked for the host: sweep forgets it long after
}

// New returns a Checker.
func New(opts Options) *Checker {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 256 << 10
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 10
	}
	if opts.PerHostConcurrency <= 0 {
		opts.PerHostConcurrency = DefaultPerHostConcurrency
	}
	if opts.SlowThreshold <= 0 {
		opts.SlowThreshold = DefaultSlowThreshold
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.FreshEvery = max(opts.FreshEvery, 0)
	if opts.TLSWarn <= 0 {
		opts.TLSWarn = DefaultTLSWarn
	}
	if opts.KeepAliveHosts <= 0 {
		opts.KeepAliveHosts = DefaultKeepAliveHosts
	}
	plain := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
	sessions := tls.NewLRUClientSessionCache(sessionCacheSize)
	guarded := newGuardedDialer(opts.Resolver, opts.AllowPrivate, opts.Timeout)
	c := &Checker{
		opts: opts,
		// A fresh check's connections never resume a session: the
		// handshake is full, the certificate verified, the key share a
		// browser's. They store the session the checks in between resume.
		freshTLS: &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12, Time: opts.Now,
			ClientSessionCache: storeOnlySessions{sessions}},
		resumeTLS: &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12, Time: opts.Now,
			ClientSessionCache: resumeOnlySessions{sessions}, CurvePreferences: resumeCurves},
		dial:     guarded.DialContext,
		selfDial: plain.DialContext,
		budget:   &keepBudget{max: int64(opts.KeepAliveHosts)},
		hosts:    map[string]*hostState{},
		backoffs: map[string]time.Time{},
		started:  opts.Now(),
	}
	// A one-shot connection is closed after one answer: TCP keep-alive
	// probes would never be sent, and setting them up costs system calls.
	oneShotDial := *guarded
	oneShotDial.dialer.KeepAlive = -1
	c.resumeFullTLS = c.resumeTLS.Clone()
	c.resumeFullTLS.CurvePreferences = nil
	c.oneShot = c.newOneShot(oneShotDial.DialContext, c.resumeTLS)
	c.oneShotFull = c.newOneShot(oneShotDial.DialContext, c.resumeFullTLS)
	c.self = c.newConns(c.selfDial, nil, nil, nil)
	return c
}

// newConns returns an empty set of connections dialed with dial. Between
// fresh checks, a host with no place in budget uses oneShot (oneShotFull
// once it refused oneShot's offer); nil: it never lacks one (budget is nil).
func (c *Checker) newConns(dial func(context.Context, string, string) (net.Conn, error), budget *keepBudget, oneShot, oneShotFull *http.Transport) *conns {
	return &conns{every: c.opts.FreshEvery, budget: budget, oneShot: oneShot, oneShotFull: oneShotFull, newKept: func(fullOffer bool) *http.Transport {
		cfg := c.resumeTLS
		if fullOffer {
			cfg = c.resumeFullTLS
		}
		return c.newKept(dial, cfg)
	}, newTransport: func() *http.Transport {
		// As a browser connects: HTTP/2 when the server offers it. An
		// HTTP/1.1 connection may be kept for the checks until the next
		// fresh one, so its buffers are a kept one's.
		return c.transport(dial, c.freshTLS, func(t *http.Transport) { // the transport adds its ALPN protocols to the config
			t.ForceAttemptHTTP2 = true
			c.pooled(t)
		})
	}}
}

// transport returns a transport of the checks, dialed with dial over a
// copy of tlsConfig: never a proxy from the environment (the prober must
// reach what it checks), waits bounded by the check's timeout, headers
// bounded like the body (Go's default lets a destination send 10 MB of
// them), small buffers; shape then fits it to its use (pooling,
// protocols).
func (c *Checker) transport(dial func(context.Context, string, string) (net.Conn, error), tlsConfig *tls.Config, shape func(*http.Transport)) *http.Transport {
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		TLSClientConfig:        tlsConfig.Clone(),
		TLSHandshakeTimeout:    c.opts.Timeout,
		ResponseHeaderTimeout:  c.opts.Timeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		ReadBufferSize:         connBufferSize,
		WriteBufferSize:        connBufferSize,
	}
	shape(t)
	t.DialTLSContext = dialTLS(dial, t)
	return t
}

// pooled keeps a host's idle connections: the host and a few redirect
// hops.
func (c *Checker) pooled(t *http.Transport) {
	t.MaxIdleConns = 4 * c.opts.PerHostConcurrency
	t.MaxIdleConnsPerHost = c.opts.PerHostConcurrency
	t.IdleConnTimeout = idleConnTimeout
}

// http1 speaks HTTP/1.1 only.
func http1(t *http.Transport) {
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
}

// connBufferSize is the read and write buffer of each HTTP/1.1 connection
// (Go's default: 4 KiB each), kept idle between checks by thousands of
// hosts. A request's headers fit in it; a longer header line or a body is
// read past it, in more reads.
const connBufferSize = 1 << 10

// newKept returns the generation a host keeps after a fresh check that
// spoke HTTP/2: HTTP/1.1 with small buffers, whose connections resume the
// fresh check's TLS session (tlsConfig: resumeTLS or resumeFullTLS).
func (c *Checker) newKept(dial func(context.Context, string, string) (net.Conn, error), tlsConfig *tls.Config) *http.Transport {
	return c.transport(dial, tlsConfig, func(t *http.Transport) {
		c.pooled(t)
		http1(t)
	})
}

// newOneShot returns the transport of the checks between fresh ones of the
// hosts that keep no connection. Every request gets a connection of its
// own, closed after the answer (no connection is pooled, so one transport
// serves every host), over HTTP/1.1: HTTP/2 would set up settings, flow
// control and a reader goroutine for a single request. Its connections
// resume TLS sessions.
func (c *Checker) newOneShot(dial func(context.Context, string, string) (net.Conn, error), tlsConfig *tls.Config) *http.Transport {
	return c.transport(dial, tlsConfig, func(t *http.Transport) {
		t.DisableKeepAlives = true
		http1(t)
	})
}

// periodsFrom is where a host's renewal periods are counted from: the
// checker's start shifted by a stable phase of the host's own, within one
// period before it.
func (c *Checker) periodsFrom(host string) time.Time {
	every := c.opts.FreshEvery
	if every <= 0 {
		return c.started
	}
	return c.started.Add(Offset(host, every) - every)
}

// idleConnTimeout closes a connection unused this long: above any
// interval, or nothing would be reused.
const idleConnTimeout = 90 * time.Second

// visit is one check's view of its connections.
type visit struct {
	// transport, not an http.Client: the client would follow redirects or
	// refuse an unreadable Location itself, and both are ours to judge.
	transport http.RoundTripper
	opened    map[net.Conn]bool // connections this check opened
	stale     bool              // a hop reused a connection an earlier check opened
	resumed   bool              // a hop's connection resumed a TLS session instead of verifying the certificate
	h2        bool              // a hop's answer came over HTTP/2
	// offerRefused: a hop's server answered the client's hello with an
	// alert (no group in common, say).
	offerRefused bool
	// soonest is the certificate expiring first across the hops, in the
	// verified chain each hop would best be trusted through.
	soonest     *x509.Certificate
	soonestHost string // the host that served it
}

func newVisit(t *http.Transport) *visit {
	return &visit{transport: t, opened: map[net.Conn]bool{}}
}

// CloseIdleConnections closes every connection no check is using, as at
// shutdown; the next check of each host is fresh.
func (c *Checker) CloseIdleConnections() {
	c.mu.Lock()
	all := []*conns{c.self}
	for _, h := range c.hosts {
		all = append(all, h.conns)
	}
	c.mu.Unlock()
	for _, p := range all {
		p.reset()
	}
}

func (c *Checker) selfToken() string {
	if c.opts.SelfCheckToken == "" {
		return "1"
	}
	return c.opts.SelfCheckToken
}

func (c *Checker) host(name string) *hostState {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.hosts[name]
	if !ok {
		h = &hostState{sem: make(chan struct{}, c.opts.PerHostConcurrency), conns: c.newConns(c.dial, c.budget, c.oneShot, c.oneShotFull)}
		h.conns.periodsFrom = c.periodsFrom(name)
		c.hosts[name] = h
	}
	h.usedAt = c.opts.Now()
	return h
}

// Check checks one target. It never returns an error: an outage is a Result
// with a Cause.
func (c *Checker) Check(ctx context.Context, t linkwatch.Target) linkwatch.Result {
	r := linkwatch.Result{TargetID: t.ID, Series: t.Series, Kind: t.Kind, URL: t.URL, Start: c.opts.Now()}
	if t.Kind == linkwatch.TargetSelfCheck {
		c.using(c.self, &r, func(v *visit) {
			c.timed(ctx, &r, func(ctx context.Context) { c.checkSelf(ctx, v, t, &r) })
		})
	} else {
		c.checkDestination(ctx, t, &r)
	}
	if t.Kind == linkwatch.TargetSelfCheck && r.Cause == linkwatch.CauseNone && r.Latency > c.opts.SlowThreshold {
		r.Status, r.Cause = linkwatch.StatusDegraded, linkwatch.CauseHubSlow
		r.Summary = fmt.Sprintf("the hub took %s to answer %s (threshold %s)", r.Latency.Round(time.Millisecond), t.URL, c.opts.SlowThreshold)
	}
	if r.Status == "" {
		r.Status = linkwatch.StatusUp
		if r.Cause != linkwatch.CauseNone {
			r.Status = linkwatch.StatusDown
		}
	}
	return r
}

// timed runs one check under the per-check timeout and measures it. The
// clock starts here, not when Check is called: time spent waiting for a
// host's turn is our own queueing and must count neither against the
// destination's timeout nor in its latency.
func (c *Checker) timed(ctx context.Context, r *linkwatch.Result, check func(ctx context.Context)) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	r.Start = c.opts.Now()
	started := time.Now()
	check(ctx)
	r.Latency = time.Since(started)
}

// serverOf names the server a URL reaches, for back-offs: its host in
// lower case and its port, the scheme's default when none is written.
func serverOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// backoff reports until when the server u reaches asked us, with a 429's
// Retry-After, to stay away.
func (c *Checker) backoff(u *url.URL) (until time.Time, ok bool) {
	c.mu.Lock()
	until = c.backoffs[serverOf(u)]
	c.mu.Unlock()
	return until, c.opts.Now().Before(until)
}

// skipBackoff records a check not made because it would request u, of a
// server backing off until until: skipped, not failed. The server answered
// a 429 to another check; what it would answer to this one is unknown.
func (c *Checker) skipBackoff(r *linkwatch.Result, u *url.URL, until time.Time) {
	r.Status, r.Cause, r.SkippedUntil = linkwatch.StatusSkipped, linkwatch.CauseRateLimited, until.UTC()
	when := until.UTC().Format("15:04:05 MST")
	server := serverOf(u)
	r.Summary = fmt.Sprintf("not checked: %s asked to be left alone until %s (429 Retry-After)", server, when)
	if len(r.Hops) > 0 {
		r.Summary = fmt.Sprintf("not checked: the redirects lead to %s, and %s asked to be left alone until %s (429 Retry-After)", u, server, when)
	}
}

// using runs one check over a host's connections: fresh ones when due.
//
// A server that refuses the reduced key-share offer of a check between
// fresh ones (resumeCurves) has not failed a visitor, who offers more: the
// check is made again, fresh, and the host's later checks offer what a
// browser does.
func (c *Checker) using(p *conns, r *linkwatch.Result, check func(*visit)) {
	blank := *r
	for {
		l := p.take(c.opts.Now())
		v := newVisit(l.transport)
		check(v)
		r.Fresh = !v.stale && !v.resumed
		// A check skipped at a later hop saw nothing wrong with the hops
		// it made.
		failed := r.Cause != linkwatch.CauseNone && !r.Skipped()
		refused := (l.oneShot || l.kept) && v.offerRefused && failed
		l.h2 = v.h2
		p.give(l, failed, refused)
		c.sweep(l.started)
		if !refused {
			return
		}
		*r = blank
	}
}

// sweep forgets the hosts no longer checked (gone from the config, or moved
// to another replica), so the per-host state does not grow with every host
// ever checked, and gives back the budget places of those that keep
// connections: a host still checked renews its connections at least every
// FreshEvery, so one not renewed for twice that plus the idle timeout is
// gone. A host is forgotten once no check has asked for it for as long,
// unless a request to it is in flight; should it be checked again, it
// starts afresh, as a new host. Back-offs are kept apart, per server,
// until they end. It runs at
// most once per FreshEvery (per idle timeout when every check is fresh).
func (c *Checker) sweep(now time.Time) {
	every := c.opts.FreshEvery
	if every <= 0 {
		every = idleConnTimeout
	}
	last := c.sweptAt.Load()
	if now.Sub(time.Unix(0, last)) < every || !c.sweptAt.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	c.mu.Lock()
	before := now.Add(-2*max(c.opts.FreshEvery, 0) - idleConnTimeout)
	kept := make([]*conns, 0, len(c.hosts))
	var forgotten []*conns
	for server, until := range c.backoffs {
		if !now.Before(until) {
			delete(c.backoffs, server)
		}
	}
	for name, h := range c.hosts {
		if h.usedAt.Before(before) && len(h.sem) == 0 {
			delete(c.hosts, name)
			forgotten = append(forgotten, h.conns)
			continue
		}
		kept = append(kept, h.conns)
	}
	c.mu.Unlock()
	for _, p := range forgotten {
		p.reset()
	}
	if c.budget.full() {
		for _, p := range kept {
			p.resetIfAbandoned(before)
		}
	}
}

func (c *Checker) fail(r *linkwatch.Result, cause linkwatch.Cause, summary string, err error) {
	r.Status, r.Cause, r.Summary = linkwatch.StatusDown, cause, summary
	if cause.Degrades() {
		r.Status = linkwatch.StatusDegraded
	}
	if err != nil {
		r.Error = err.Error()
	}
}

func (c *Checker) checkDestination(ctx context.Context, t linkwatch.Target, r *linkwatch.Result) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		c.fail(r, linkwatch.CauseBlocked, fmt.Sprintf("%q is not an http(s) URL", t.URL), err)
		return
	}
	first := strings.ToLower(u.Hostname())
	if until, ok := c.backoff(u); ok {
		c.skipBackoff(r, u, until)
		return
	}
	sem := c.host(first).sem
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		// Only the caller's context (a shutdown, a one-shot run's
		// deadline) ends the wait: the check's own timeout has not
		// started yet.
		c.fail(r, linkwatch.CauseTimeout, fmt.Sprintf("cancelled while waiting for a free connection to %s", first), ctx.Err())
		return
	}
	// The host may have asked for a back-off while this check waited for
	// its turn.
	if until, ok := c.backoff(u); ok {
		c.skipBackoff(r, u, until)
		return
	}
	c.using(c.host(first).conns, r, func(v *visit) {
		c.timed(ctx, r, func(ctx context.Context) { c.follow(ctx, v, t, u, r) })
	})
}

// follow requests u and the redirects it leads to, one hop at a time, and
// judges the last answer.
func (c *Checker) follow(ctx context.Context, v *visit, t linkwatch.Target, u *url.URL, r *linkwatch.Result) {
	seen := map[string]bool{}
	next := u
	for hop := 0; ; hop++ {
		if seen[next.String()] {
			c.fail(r, linkwatch.CauseRedirectLoop, fmt.Sprintf("redirect loop: %s is visited twice", next), nil)
			return
		}
		seen[next.String()] = true
		if hop > c.opts.MaxRedirects {
			c.fail(r, linkwatch.CauseTooManyRedirects, fmt.Sprintf("more than %d redirects starting at %s", c.opts.MaxRedirects, t.URL), nil)
			return
		}
		// A later hop may lead to a server that asked us to back off.
		if hop > 0 {
			if until, ok := c.backoff(next); ok {
				c.skipBackoff(r, next, until)
				return
			}
		}
		resp, body, h, err := c.fetch(ctx, v, next, t.Expect.BodyContains != "")
		if h != nil {
			r.Hops = append(r.Hops, *h)
		}
		if err != nil {
			cause, summary := classify(err, next)
			c.fail(r, cause, summary, err)
			return
		}
		r.StatusCode = resp.StatusCode
		r.BytesRead += int64(len(body.data)) + body.discarded
		if isRedirect(resp.StatusCode) {
			target, err := redirectTarget(next, resp)
			if err != nil {
				c.fail(r, linkwatch.CauseRedirectInvalid, err.Error(), nil)
				return
			}
			next = target
			continue
		}
		r.FinalURL = next.String()
		if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
			r.TLSExpiry = resp.TLS.PeerCertificates[0].NotAfter.UTC()
		}
		c.judge(t, r, resp, body.data, next)
		if r.Cause == linkwatch.CauseNone {
			c.warnExpiring(r, v.soonest, v.soonestHost)
		}
		return
	}
}

// redirectTarget is where a redirect leads a browser, or why it leads
// nowhere.
func redirectTarget(from *url.URL, resp *http.Response) (*url.URL, error) {
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("%s answered %s without a Location: a visitor gets nowhere", from, status)
	}
	to, err := from.Parse(loc)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s answered %s with a Location that is not a URL: %q", from, status, loc)
	case to.Scheme != "http" && to.Scheme != "https":
		return nil, fmt.Errorf("%s redirects to %q, which is not an http(s) URL a browser follows", from, loc)
	case to.Hostname() == "":
		return nil, fmt.Errorf("%s redirects to %q, which has no host", from, loc)
	}
	return to, nil
}

// warnExpiring degrades a healthy result whose certificate chain has a
// certificate expiring within TLSWarn: the visitor is served today, and
// the owner has time to renew.
func (c *Checker) warnExpiring(r *linkwatch.Result, cert *x509.Certificate, host string) {
	if cert == nil {
		return
	}
	left := cert.NotAfter.Sub(c.opts.Now())
	switch {
	case left >= c.opts.TLSWarn:
		return
	case left <= 0:
		// Verified when the connection was opened, expired since: a new
		// visitor's handshake fails.
		c.fail(r, linkwatch.CauseTLSExpired, fmt.Sprintf("TLS certificate %q for %s expired on %s", certName(cert), host, cert.NotAfter.UTC().Format("2006-01-02")), nil)
		return
	}
	when := fmt.Sprintf("in %d days", int(left/(24*time.Hour)))
	switch {
	case left < 24*time.Hour:
		when = fmt.Sprintf("in %s", left.Round(time.Minute))
	case left < 48*time.Hour:
		when = "in 1 day"
	}
	c.fail(r, linkwatch.CauseTLSExpiring, fmt.Sprintf("TLS certificate %q for %s expires %s, on %s",
		certName(cert), host, when, cert.NotAfter.UTC().Format("2006-01-02 15:04 MST")), nil)
}

// noteChain keeps the certificate that expires first on the visit's path.
// Of several verified chains the one lasting longest counts: a browser
// trusts the site through any of them.
func (v *visit) noteChain(host string, state *tls.ConnectionState) {
	if state == nil {
		return
	}
	var best *x509.Certificate
	for _, chain := range state.VerifiedChains {
		if first := soonestIn(chain); first != nil && (best == nil || first.NotAfter.After(best.NotAfter)) {
			best = first
		}
	}
	if best == nil {
		best = soonestIn(state.PeerCertificates)
	}
	if best != nil && (v.soonest == nil || best.NotAfter.Before(v.soonest.NotAfter)) {
		v.soonest, v.soonestHost = best, host
	}
}

func soonestIn(chain []*x509.Certificate) *x509.Certificate {
	var first *x509.Certificate
	for _, c := range chain {
		if first == nil || c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	return first
}

// judge decides whether the final answer is healthy.
func (c *Checker) judge(t linkwatch.Target, r *linkwatch.Result, resp *http.Response, body []byte, final *url.URL) {
	code := resp.StatusCode
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case code == http.StatusTooManyRequests:
		r.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), c.opts.Now())
		summary := fmt.Sprintf("429 Too Many Requests at %s", final)
		if r.RetryAfter > 0 {
			// The back-off is the answering server's, wherever the chain began.
			c.mu.Lock()
			c.backoffs[serverOf(final)] = c.opts.Now().Add(r.RetryAfter)
			c.mu.Unlock()
			summary += fmt.Sprintf("; retrying after %s", r.RetryAfter)
		}
		c.fail(r, linkwatch.CauseRateLimited, summary, nil)
		return
	case len(t.Expect.Status) > 0 && !slices.Contains(t.Expect.Status, code):
		cause := linkwatch.CauseHTTP4xx
		if code >= 500 {
			cause = linkwatch.CauseHTTP5xx
		}
		c.fail(r, cause, fmt.Sprintf("%s at %s; expected %v", status, final, t.Expect.Status), nil)
		return
	case len(t.Expect.Status) == 0 && code >= 500:
		c.fail(r, linkwatch.CauseHTTP5xx, fmt.Sprintf("%s at %s", status, final), nil)
		return
	case len(t.Expect.Status) == 0 && code >= 400:
		c.fail(r, linkwatch.CauseHTTP4xx, fmt.Sprintf("%s at %s", status, final), nil)
		return
	}
	if want := t.Expect.FinalHost; want != "" && !strings.EqualFold(final.Hostname(), want) {
		c.fail(r, linkwatch.CauseRedirectChanged, fmt.Sprintf("the redirect chain now ends on %s, expected %s", final.Hostname(), want), nil)
		return
	}
	if want := t.Expect.BodyContains; want != "" && !bytes.Contains(body, []byte(want)) {
		c.fail(r, linkwatch.CauseContentMismatch, fmt.Sprintf("expected text %q not found in the first %d KiB of %s", want, (len(body)+1023)/1024, final), nil)
		return
	}
}

// isRedirect reports whether a browser follows an answer's Location: 300
// Multiple Choices too, which offers no choice a visitor can make without
// one. Without a usable Location, each is redirect_invalid.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMultipleChoices, http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readBody is what was read of a body: the bytes kept (when the caller
// needs them) and the count of those discarded.
type readBody struct {
	data      []byte
	discarded int64
}

// fetch sends one request (HEAD first when configured, falling back to GET)
// and reads at most MaxBodyBytes of the answer.
func (c *Checker) fetch(ctx context.Context, v *visit, u *url.URL, keepBody bool) (*http.Response, readBody, *linkwatch.Hop, error) {
	method := http.MethodGet
	if c.opts.HEADFirst && !keepBody {
		method = http.MethodHead
	}
	resp, body, hop, err := c.do(ctx, v, method, u, keepBody, nil)
	if err == nil && method == http.MethodHead {
		switch resp.StatusCode {
		case http.StatusMethodNotAllowed, http.StatusForbidden, http.StatusNotImplemented:
			// Many servers refuse HEAD but serve GET: ask again properly.
			return c.do(ctx, v, http.MethodGet, u, keepBody, nil)
		}
	}
	return resp, body, hop, err
}

func (c *Checker) do(ctx context.Context, v *visit, method string, u *url.URL, keepBody bool, header http.Header) (*http.Response, readBody, *linkwatch.Hop, error) {
	tr := &hopTrace{}
	req, err := http.NewRequestWithContext(withTrace(ctx, tr), method, u.String(), nil)
	if err != nil {
		return nil, readBody{}, nil, err
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	for k, v := range header {
		req.Header[k] = v
	}
	hop := &linkwatch.Hop{URL: u.String()}
	resp, err := v.transport.RoundTrip(req)
	if conn, reused := tr.got(); conn != nil {
		hop.NewConn = !reused
		if !reused {
			v.opened[conn] = true
		} else if !v.opened[conn] {
			v.stale = true
		}
	}
	resumed, refused := tr.handshake()
	if resumed {
		hop.Resumed, v.resumed = true, true
	}
	v.offerRefused = v.offerRefused || refused
	if err != nil {
		hop.Phases = tr.phases()
		// The dial outlives the request (the transport detaches it from
		// the request's context), so when the check's deadline passes
		// mid-dial, only the trace knows that the host never answered
		// DNS or never accepted the connection: not a slow answer.
		if errors.Is(err, context.DeadlineExceeded) {
			switch {
			case tr.resolving():
				err = &dnsError{host: u.Hostname(), err: &net.DNSError{Err: "timed out", Name: u.Hostname(), IsTimeout: true}}
			case tr.connecting():
				err = &connectTimeoutError{err: err}
			}
		}
		return nil, readBody{}, hop, err
	}
	defer resp.Body.Close()
	v.h2 = v.h2 || resp.ProtoMajor == 2
	v.noteChain(u.Hostname(), resp.TLS)
	var body readBody
	limited := io.LimitReader(resp.Body, c.opts.MaxBodyBytes)
	if keepBody {
		body.data, err = io.ReadAll(limited)
	} else {
		body.discarded, err = io.Copy(io.Discard, limited)
	}
	tr.mark(&tr.done)
	hop.StatusCode, hop.Location, hop.Phases = resp.StatusCode, resp.Header.Get("Location"), tr.phases()
	if err != nil {
		return nil, body, hop, err
	}
	return resp, body, hop, nil
}

// checkSelf requests the hub's own short link without following it: the
// hub must answer 302 to the configured destination.
func (c *Checker) checkSelf(ctx context.Context, v *visit, t linkwatch.Target, r *linkwatch.Result) {
	u, err := url.Parse(t.URL)
	if err != nil {
		c.fail(r, linkwatch.CauseHubRedirectWrong, fmt.Sprintf("self-check URL %q is invalid", t.URL), err)
		return
	}
	resp, _, hop, err := c.do(ctx, v, http.MethodGet, u, false, http.Header{SelfCheckHeader: {c.selfToken()}})
	if hop != nil {
		r.Hops = []linkwatch.Hop{*hop}
	}
	if err != nil {
		cause, summary := classify(err, u)
		c.fail(r, cause, "hub self-check: "+summary, err)
		return
	}
	r.StatusCode = resp.StatusCode
	loc := resp.Header.Get("Location")
	onFallback := loc != "" && loc == t.AltLocation
	switch {
	case resp.StatusCode != http.StatusFound:
		c.fail(r, linkwatch.CauseHubRedirectWrong, fmt.Sprintf("the hub answered %d %s for %s, want 302 to %s", resp.StatusCode, http.StatusText(resp.StatusCode), u.Path, t.WantLocation), nil)
	case loc == t.WantLocation, onFallback && c.opts.Diverted != nil && c.opts.Diverted(t, r.Start):
		r.FinalURL = loc
	case onFallback:
		c.fail(r, linkwatch.CauseHubRedirectWrong, fmt.Sprintf("the hub redirects %s to its fallback %s while its destination is not down, want %s", u.Path, loc, t.WantLocation), nil)
	default:
		c.fail(r, linkwatch.CauseHubRedirectWrong, fmt.Sprintf("the hub redirects %s to %s, want %s", u.Path, loc, t.WantLocation), nil)
	}
}

// classify names the cause of a request error and says it in one line.
func classify(err error, u *url.URL) (linkwatch.Cause, string) {
	host := u.Hostname()
	var (
		dnsErr      *dnsError
		blocked     *blockedError
		invalid     x509.CertificateInvalidError
		hostnameErr x509.HostnameError
		unknownCA   x509.UnknownAuthorityError
		opErr       *net.OpError
		netErr      net.Error
		connTimeout *connectTimeoutError
	)
	switch {
	case errors.As(err, &dnsErr):
		// Go's resolver puts the resolver's address in some errors
		// ("read udp 10.0.0.2:5353->10.0.0.53:53: ..."): the summary is
		// public (status page, feeds), so it says only what kind of
		// failure; the error, kept as evidence, has the rest.
		if reason := lookupReason(dnsErr.err); reason != "" {
			return linkwatch.CauseDNS, fmt.Sprintf("DNS lookup for %s: %s", host, reason)
		}
		return linkwatch.CauseDNS, fmt.Sprintf("DNS lookup for %s failed: the resolver did not answer it", host)
	case errors.As(err, &blocked):
		return linkwatch.CauseBlocked, "refused by the SSRF guard: " + blocked.Error()
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return linkwatch.CauseTLSExpired, fmt.Sprintf("TLS certificate for %s expired on %s", host, invalid.Cert.NotAfter.UTC().Format("2006-01-02"))
	case errors.As(err, &invalid):
		return linkwatch.CauseTLSUntrusted, fmt.Sprintf("TLS certificate for %s is invalid: %s", host, invalid.Detail)
	case errors.As(err, &hostnameErr):
		return linkwatch.CauseTLSHostname, fmt.Sprintf("TLS certificate is not valid for %s (it names %s)", host, certNames(hostnameErr.Certificate))
	case errors.As(err, &unknownCA):
		return linkwatch.CauseTLSUntrusted, fmt.Sprintf("TLS certificate for %s is signed by an unknown authority", host)
	case errors.As(err, &opErr) && opErr.Op == "dial" && isRefused(opErr):
		return linkwatch.CauseConnectRefused, fmt.Sprintf("connection to %s refused", hostPort(u))
	case errors.As(err, &connTimeout) || errors.As(err, &opErr) && opErr.Op == "dial" && (opErr.Timeout() || errors.Is(err, context.DeadlineExceeded)):
		return linkwatch.CauseConnectTimeout, fmt.Sprintf("connecting to %s timed out", hostPort(u))
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return linkwatch.CauseTimeout, fmt.Sprintf("%s did not answer in time", u)
	default:
		return linkwatch.CauseConnectionFailure, fmt.Sprintf("request to %s failed: %v", hostPort(u), rootCause(err))
	}
}

// connectTimeoutError is a request whose deadline passed while it was still
// connecting.
type connectTimeoutError struct{ err error }

func (e *connectTimeoutError) Error() string { return "connect: " + e.err.Error() }
func (e *connectTimeoutError) Unwrap() error { return e.err }

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// certName is how a person names a certificate: its subject's common name,
// else its first DNS name.
func certName(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	}
	return c.Subject.String()
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no name"
	}
	if len(c.DNSNames) > 0 {
		return strings.Join(c.DNSNames, ", ")
	}
	return c.Subject.CommonName
}

// rootCause strips url.Error's "Get \"...\": " prefix, which repeats the URL.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
