package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch"
	"linkwatch/checker"
)

// floorProber is the reference linkwatch's checker is measured against:
// exactly one bare net/http GET per check, under the checker's freshness
// policy and nothing else (no SSRF guard, no trace, no redirects followed,
// no cause named, no result written). Per host:
//
//   - a fresh check (the host's first, then at least every fresh_every, at
//     the same stable phase per host as the checker's, and after any
//     failure) dials a new connection on a new transport, with a full,
//     verified TLS handshake that resumes nothing and offers HTTP/2, as
//     net/http does when asked to;
//   - a host with a place among keep_alive_hosts keeps that transport,
//     and its checks until the next fresh one reuse its connection;
//   - the others reach the host over a new HTTP/1.1 connection per check
//     that resumes the session of the host's last fresh check, offering
//     P-256 (the cheapest key exchange, as the checker does).
//
// So the floor meets the same fleet with the same handshakes, connections
// and kept hosts as the checker: what the checker costs beyond it is the
// checker's own work.
type floorProber struct {
	every   time.Duration
	started time.Time
	timeout time.Duration
	budget  int64
	kept    atomic.Int64
	fresh   *tls.Config // fresh checks: never resume, store the session
	dial    func(context.Context, string, string) (net.Conn, error)
	oneShot *http.Transport

	mu    sync.Mutex
	hosts map[string]*floorHost
}

type floorHost struct {
	from time.Time // the checker's periodsFrom for this host

	mu      sync.Mutex
	current *http.Transport // kept; nil: none
	freshAt time.Time
}

func newFloorProber(roots *x509.CertPool, every, timeout time.Duration, keepAliveHosts int) *floorProber {
	sessions := tls.NewLRUClientSessionCache(1 << 16)
	d := &net.Dialer{Timeout: timeout}
	// The bench's resolver, as the checker is given: *.bench.test is
	// loopback.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := benchResolver{}.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, net.JoinHostPort(ips[0].IP.String(), port))
	}
	f := &floorProber{
		every: every, started: time.Now(), timeout: timeout, budget: int64(keepAliveHosts),
		fresh: &tls.Config{RootCAs: roots, ClientSessionCache: floorStoreOnly{sessions}},
		dial:  dial,
		hosts: map[string]*floorHost{},
	}
	f.oneShot = &http.Transport{
		DialContext:       dial,
		TLSClientConfig:   &tls.Config{RootCAs: roots, ClientSessionCache: floorResumeOnly{sessions}, CurvePreferences: []tls.CurveID{tls.CurveP256}},
		DisableKeepAlives: true,
	}
	return f
}

// floorStoreOnly and floorResumeOnly split one session cache as the
// checker does: fresh checks store sessions and never resume; the others
// resume and store nothing.
type floorStoreOnly struct{ tls.ClientSessionCache }

func (floorStoreOnly) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

type floorResumeOnly struct{ tls.ClientSessionCache }

func (floorResumeOnly) Put(string, *tls.ClientSessionState) {}

func (f *floorProber) host(name string) *floorHost {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.hosts[name]
	if !ok {
		h = &floorHost{from: f.started}
		if f.every > 0 {
			h.from = f.started.Add(checker.Offset(name, f.every) - f.every)
		}
		f.hosts[name] = h
	}
	return h
}

func (f *floorProber) due(h *floorHost, now time.Time) bool {
	if f.every <= 0 || h.freshAt.IsZero() || now.Sub(h.freshAt) >= f.every {
		return true
	}
	return now.Sub(h.from)/f.every != h.freshAt.Sub(h.from)/f.every
}

// Check makes one GET of t.URL.
func (f *floorProber) Check(ctx context.Context, t linkwatch.Target) linkwatch.Result {
	r := linkwatch.Result{TargetID: t.ID, Kind: t.Kind, URL: t.URL, Start: time.Now()}
	u, err := url.Parse(t.URL)
	if err != nil {
		r.Status = linkwatch.StatusDown
		return r
	}
	h := f.host(u.Hostname())
	h.mu.Lock()
	tr := h.current
	fresh := f.due(h, r.Start)
	switch {
	case fresh:
		tr = &http.Transport{DialContext: f.dial, TLSClientConfig: f.fresh.Clone(), ForceAttemptHTTP2: true}
	case tr == nil:
		tr = f.oneShot
	}
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = tr.RoundTrip(req); err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 256<<10))
			resp.Body.Close()
			r.StatusCode = resp.StatusCode
		}
	}
	r.Latency = time.Since(r.Start)
	r.Status, r.Fresh = linkwatch.StatusUp, fresh
	if err != nil || r.StatusCode >= 400 {
		r.Status = linkwatch.StatusDown
	}

	var retire []*http.Transport
	h.mu.Lock()
	switch {
	case r.Status != linkwatch.StatusUp:
		if h.current != nil {
			retire = append(retire, h.current)
			h.current = nil
			f.kept.Add(-1)
		}
		h.freshAt = time.Time{}
	case fresh:
		h.freshAt = r.Start
		if h.current != nil || f.kept.Add(1) <= f.budget {
			retire = append(retire, h.current)
			h.current = tr
		} else {
			f.kept.Add(-1)
		}
	}
	if fresh && tr != h.current {
		retire = append(retire, tr)
	}
	h.mu.Unlock()
	for _, t := range retire {
		if t != nil {
			t.CloseIdleConnections()
		}
	}
	return r
}

// CloseIdleConnections closes every kept connection.
func (f *floorProber) CloseIdleConnections() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hosts {
		h.mu.Lock()
		if h.current != nil {
			h.current.CloseIdleConnections()
		}
		h.mu.Unlock()
	}
}
