package checker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
)

// testCA signs certificates for tests.
type testCA struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial atomic.Int64

func newTestCA(t *testing.T, cn string, notBefore, notAfter time.Time) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{t: t, cert: cert, key: key}
}

// Intermediate returns a CA signed by ca.
func (ca *testCA) Intermediate(cn string, notBefore, notAfter time.Time) *testCA {
	ca.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{t: ca.t, cert: cert, key: key}
}

// Leaf issues a server certificate for host; chain is sent after it.
func (ca *testCA) Leaf(host string, notBefore, notAfter time.Time, chain ...*testCA) *tls.Certificate {
	ca.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	out := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.cert.Raw)
	}
	return out
}

// swappableTLSServer serves HTTPS with whatever certificate cert holds at
// the moment of each handshake; a kept-alive connection keeps the one it
// was opened with. It counts the connections it accepted.
func swappableTLSServer(t *testing.T, cert *atomic.Pointer[tls.Certificate], h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	srv, conns := unstartedCounting(h)
	srv.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.Load(), nil }}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, conns
}

// countingServer serves h over HTTP and counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	srv, conns := unstartedCounting(h)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

func unstartedCounting(h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests are about
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	return srv, &conns
}

// switchResolver sends every name to loopback until nx is set, then answers
// NXDOMAIN. It counts lookups.
type switchResolver struct {
	nx      atomic.Bool
	lookups atomic.Int32
}

func (r *switchResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.lookups.Add(1)
	if r.nx.Load() {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}

// Advance moves the clock on, for a checker that reads it.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Something changes behind a kept-alive connection: the checks in between
// may keep saying up, the first check once fresh_every has passed sees it,
// and the check after that (the one that confirms the failure) is fresh
// too. The change comes right after a fresh check: the unlucky moment, a
// whole fresh_every before the next one.
func TestFreshCheckSeesWhatAKeptAliveConnectionHides(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ca := newTestCA(t, "Test Root", start.Add(-time.Hour), start.Add(365*24*time.Hour))
	tests := []struct {
		name    string
		change  func(srv *httptest.Server, cert *atomic.Pointer[tls.Certificate], res *switchResolver)
		cause   linkwatch.Cause
		summary string
	}{
		{"certificate swapped for an expired one", func(_ *httptest.Server, cert *atomic.Pointer[tls.Certificate], _ *switchResolver) {
			cert.Store(ca.Leaf("shop.test", start.Add(-48*time.Hour), start.Add(-24*time.Hour)))
		}, linkwatch.CauseTLSExpired, "TLS certificate for shop.test expired on"},
		{"domain answers NXDOMAIN after the first lookup", func(_ *httptest.Server, _ *atomic.Pointer[tls.Certificate], res *switchResolver) {
			res.nx.Store(true)
		}, linkwatch.CauseDNS, "DNS lookup for shop.test: no such host"},
		{"new connections refused", func(srv *httptest.Server, _ *atomic.Pointer[tls.Certificate], _ *switchResolver) {
			srv.Listener.Close() // connections already accepted keep being served
		}, linkwatch.CauseConnectRefused, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cert atomic.Pointer[tls.Certificate]
			cert.Store(ca.Leaf("shop.test", start.Add(-time.Hour), start.Add(90*24*time.Hour)))
			srv, conns := swappableTLSServer(t, &cert, func(w http.ResponseWriter, r *http.Request) {})
			res := &switchResolver{}
			clock := &fakeClock{now: start}
			c := newTestChecker(t, Options{Resolver: res, RootCAs: certPool(ca.cert), Now: clock.Now, FreshEvery: time.Minute})
			u := named(t, srv.URL, "shop.test") + "/"
			check := func() linkwatch.Result { return c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}) }

			r := check()
			if r.Status != linkwatch.StatusUp || !r.Fresh || len(r.Hops) != 1 || !r.Hops[0].NewConn {
				t.Fatalf("first check: %q %q fresh %v hops %+v", r.Status, r.Summary, r.Fresh, r.Hops)
			}
			if p := r.Hops[0].Phases; p.DNS <= 0 || p.Connect <= 0 || p.TLS <= 0 {
				t.Errorf("a fresh check records DNS, connect and TLS: %+v", p)
			}
			renewFirstGeneration(t, clock, check)
			tt.change(srv, &cert, res)
			// Within fresh_every the kept-alive connection is reused: the
			// change is not seen yet. That is the allowance, and the reason
			// fresh checks exist.
			for range 5 {
				clock.Advance(10 * time.Second)
				if r := check(); r.Status != linkwatch.StatusUp || r.Fresh || r.Hops[0].NewConn {
					t.Fatalf("at %s, within fresh_every: %q %q fresh %v", clock.Now().Sub(start), r.Status, r.Summary, r.Fresh)
				}
			}
			lookups := res.lookups.Load()
			for i := range 2 { // the fresh check, then the confirming one
				clock.Advance(10 * time.Second)
				r := check()
				if r.Cause != tt.cause || r.Status != linkwatch.StatusDown || !strings.Contains(r.Summary, tt.summary) {
					t.Fatalf("check %d at %s: cause %q summary %q, want %q", i, clock.Now().Sub(start), r.Cause, r.Summary, tt.cause)
				}
				if !r.Fresh {
					t.Errorf("check %d at %s was not fresh", i, clock.Now().Sub(start))
				}
			}
			if n := res.lookups.Load() - lookups; n != 2 {
				t.Errorf("%d DNS lookups by the two fresh checks, want 2", n)
			}
			if n := conns.Load(); tt.cause == linkwatch.CauseTLSExpired && n != 4 {
				t.Errorf("the server saw %d connections, want 4: the first, its renewal, then one per fresh check", n)
			}
		})
	}
}

// renewFirstGeneration checks every 10 s until a check is fresh: a host's
// first connections are renewed at its phase, so that the fresh checks of
// hosts first checked together spread out.
func renewFirstGeneration(t *testing.T, clock *fakeClock, check func() linkwatch.Result) {
	t.Helper()
	for range 6 {
		clock.Advance(10 * time.Second)
		r := check()
		if r.Status != linkwatch.StatusUp {
			t.Fatalf("before the change: %q %q", r.Cause, r.Summary)
		}
		if r.Fresh {
			return
		}
	}
	t.Fatal("no fresh check within fresh_every of the first")
}

// The checks between fresh ones reuse the connection, and a fresh one
// comes at least every fresh_every; with zero none is reused.
func TestFreshEvery(t *testing.T) {
	t.Parallel()
	for _, every := range []time.Duration{time.Minute, 30 * time.Second, 0} {
		t.Run(every.String(), func(t *testing.T) {
			t.Parallel()
			srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
			start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
			clock := &fakeClock{now: start}
			c := newTestChecker(t, Options{Now: clock.Now, FreshEvery: every})
			u := named(t, srv.URL, "fresh.test") + "/"
			var freshAt []time.Duration
			for range 30 {
				r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
				if r.Status != linkwatch.StatusUp {
					t.Fatalf("%q %q", r.Cause, r.Summary)
				}
				if r.Fresh != r.Hops[0].NewConn {
					t.Errorf("fresh %v but the only hop's new_conn %v", r.Fresh, r.Hops[0].NewConn)
				}
				if r.Fresh {
					freshAt = append(freshAt, clock.Now().Sub(start))
				}
				clock.Advance(10 * time.Second)
			}
			if n := conns.Load(); int(n) != len(freshAt) {
				t.Errorf("%d connections for %d fresh checks", n, len(freshAt))
			}
			if every == 0 {
				if len(freshAt) != 30 {
					t.Errorf("%d of 30 checks fresh, want all", len(freshAt))
				}
				return
			}
			// The first renewal comes at the host's phase, within
			// fresh_every of the first check; then a fresh check every
			// fresh_every, the others reusing.
			if freshAt[0] != 0 || freshAt[1] <= 0 || freshAt[1] > every {
				t.Fatalf("fresh at %v: want the first, then one within %v", freshAt, every)
			}
			for i := 2; i < len(freshAt); i++ {
				if d := freshAt[i] - freshAt[i-1]; d != every {
					t.Fatalf("fresh at %v: %v between fresh checks, want %v", freshAt, d, every)
				}
			}
			if want := 2 + int((290*time.Second-freshAt[1])/every); len(freshAt) != want {
				t.Errorf("fresh at %v: %d fresh checks, want %d", freshAt, len(freshAt), want)
			}
		})
	}
}

// A failure of one destination closes the host's idle connections: the
// next check of any destination on that host is fresh.
func TestFailureMakesTheHostsNextCheckFresh(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	clock := &fakeClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	c := newTestChecker(t, Options{Now: clock.Now, FreshEvery: DefaultFreshEvery})
	ok, broken := named(t, srv.URL, "one.test")+"/ok", named(t, srv.URL, "one.test")+"/broken"
	check := func(u string) linkwatch.Result {
		clock.Advance(time.Second)
		return c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
	}
	if r := check(ok); r.Status != linkwatch.StatusUp || !r.Fresh {
		t.Fatalf("first: %q fresh %v", r.Status, r.Fresh)
	}
	if r := check(broken); r.Cause != linkwatch.CauseHTTP5xx || r.Fresh {
		t.Fatalf("broken: %q fresh %v, want http_5xx over the kept-alive connection", r.Cause, r.Fresh)
	}
	if r := check(ok); r.Status != linkwatch.StatusUp || !r.Fresh {
		t.Errorf("after the failure: %q fresh %v, want a fresh check", r.Status, r.Fresh)
	}
	if r := check(ok); r.Fresh {
		t.Errorf("after a fresh success the connection is reused again; got fresh")
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// The verified chain's earliest expiry decides, wherever it is in the
// chain; the summary names that certificate.
func TestCertificateExpiring(t *testing.T) {
	t.Parallel()
	now := time.Now()
	day := 24 * time.Hour
	root := newTestCA(t, "Test Root", now.Add(-day), now.Add(3650*day))
	shortInter := root.Intermediate("Short Intermediate", now.Add(-day), now.Add(5*day+time.Hour))
	longInter := root.Intermediate("Long Intermediate", now.Add(-day), now.Add(900*day))
	tests := []struct {
		name    string
		cert    *tls.Certificate
		warn    time.Duration
		advance time.Duration // the clock moves on after a first, healthy check over the same connection
		cause   linkwatch.Cause
		summary string
	}{
		{name: "intermediate expires first", cert: shortInter.Leaf("shop.test", now.Add(-day), now.Add(80*day), shortInter),
			cause: linkwatch.CauseTLSExpiring, summary: `TLS certificate "Short Intermediate" for shop.test expires in 5 days`},
		{name: "leaf expires first", cert: longInter.Leaf("shop.test", now.Add(-day), now.Add(3*day+time.Hour), longInter),
			cause: linkwatch.CauseTLSExpiring, summary: `TLS certificate "shop.test" for shop.test expires in 3 days`},
		{name: "expires within the day", cert: longInter.Leaf("shop.test", now.Add(-day), now.Add(5*time.Hour), longInter),
			cause: linkwatch.CauseTLSExpiring, summary: "expires in 5h0m"},
		{name: "nothing close", cert: longInter.Leaf("shop.test", now.Add(-day), now.Add(80*day), longInter)},
		{name: "warning set lower", cert: longInter.Leaf("shop.test", now.Add(-day), now.Add(10*day), longInter), warn: 7 * day},
		{name: "warning set higher", cert: longInter.Leaf("shop.test", now.Add(-day), now.Add(20*day+time.Hour), longInter), warn: 30 * day,
			cause: linkwatch.CauseTLSExpiring, summary: "expires in 20 days"},
		{name: "expired on a kept-alive connection", cert: longInter.Leaf("shop.test", now.Add(-day), now.Add(10*day), longInter), warn: day, advance: 11 * day,
			cause: linkwatch.CauseTLSExpired, summary: `TLS certificate "shop.test" for shop.test expired on`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cert atomic.Pointer[tls.Certificate]
			cert.Store(tt.cert)
			srv, _ := swappableTLSServer(t, &cert, func(w http.ResponseWriter, r *http.Request) {})
			clock := &fakeClock{now: now}
			c := newTestChecker(t, Options{RootCAs: certPool(root.cert), TLSWarn: tt.warn, Now: clock.Now, FreshEvery: 1000 * day})
			u := named(t, srv.URL, "shop.test") + "/"
			r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
			if tt.advance > 0 {
				if r.Status != linkwatch.StatusUp {
					t.Fatalf("first check: %q %q", r.Cause, r.Summary)
				}
				clock.Advance(tt.advance)
				r = c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
				if r.Fresh {
					t.Fatal("the second check was fresh; this case is about a kept-alive connection")
				}
			}
			want := map[linkwatch.Cause]linkwatch.Status{linkwatch.CauseNone: linkwatch.StatusUp, linkwatch.CauseTLSExpiring: linkwatch.StatusDegraded, linkwatch.CauseTLSExpired: linkwatch.StatusDown}[tt.cause]
			if r.Cause != tt.cause || r.Status != want || !strings.Contains(r.Summary, tt.summary) {
				t.Fatalf("cause %q status %q summary %q (err %s), want %q %q %q", r.Cause, r.Status, r.Summary, r.Error, tt.cause, want, tt.summary)
			}
		})
	}
}

// A worse verdict on the final answer wins over a certificate warning.
func TestExpiringDoesNotHideAnOutage(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := newTestCA(t, "Test Root", now.Add(-time.Hour), now.Add(2*24*time.Hour))
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(ca.Leaf("shop.test", now.Add(-time.Hour), now.Add(24*time.Hour)))
	srv, _ := swappableTLSServer(t, &cert, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	c := newTestChecker(t, Options{RootCAs: certPool(ca.cert)})
	u := named(t, srv.URL, "shop.test") + "/"
	if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Cause != linkwatch.CauseHTTP5xx || r.Status != linkwatch.StatusDown {
		t.Fatalf("cause %q status %q, want http_5xx down", r.Cause, r.Status)
	}
}

// Cert is the CA's certificate.
func (ca *testCA) Cert() *x509.Certificate { return ca.cert }

func TestCloseIdleConnectionsMakesTheNextCheckFresh(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newTestChecker(t, Options{FreshEvery: DefaultFreshEvery})
	u := named(t, srv.URL, "idle.test") + "/"
	for i, want := range []bool{true, false} {
		if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Fresh != want {
			t.Fatalf("check %d: fresh %v, want %v", i, r.Fresh, want)
		}
	}
	c.CloseIdleConnections()
	if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); !r.Fresh || conns.Load() != 2 {
		t.Errorf("after CloseIdleConnections: fresh %v, %d connections; want fresh, 2", r.Fresh, conns.Load())
	}
}

// Past KeepAliveHosts a host keeps no connection: over plain http (no TLS
// session to resume) its every check is fresh. A host that fails, or
// is no longer checked, gives its place back.
func TestKeepAliveHostsBudget(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	clock := &fakeClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	// An hour, so no renewal falls within the steps.
	c := newTestChecker(t, Options{Now: clock.Now, KeepAliveHosts: 1, FreshEvery: time.Hour})
	a, aBroken, b := named(t, srv.URL, "a.test")+"/", named(t, srv.URL, "a.test")+"/broken", named(t, srv.URL, "b.test")+"/"
	step := func(u string, wantFresh bool) {
		t.Helper()
		clock.Advance(10 * time.Second)
		if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Fresh != wantFresh {
			t.Fatalf("%s at %s: fresh %v, want %v", u, clock.Now().Format("15:04:05"), r.Fresh, wantFresh)
		}
	}
	step(a, true)  // a keeps its connection: the budget's one place
	step(b, true)  // no place for b
	step(b, true)  // so b is fresh every time
	step(a, false) // while a reuses
	step(aBroken, false)
	step(b, true) // a failed and gave its place back: b takes it
	step(b, false)
	step(a, true) // now a has none
	step(a, true)

	// b is no longer checked; after 2 × fresh_every + the idle timeout its
	// place goes back to a checked host.
	clock.Advance(2*time.Hour + idleConnTimeout)
	step(a, true) // the budget is full: this check sweeps b out
	step(a, true) // fresh, and keeps its connection
	step(a, false)
}

// Renewals stay spread over fresh_every whatever happened before: every
// host's first check at the same instant (a start), then a pause of the
// checks (the prober fell behind) and all of them at once. After that,
// each interval has its share of fresh checks, not a wave every
// fresh_every; and no host goes longer than fresh_every without one.
func TestRenewalsStaySpread(t *testing.T) {
	t.Parallel()
	const hosts = 600
	every, interval := time.Minute, 10*time.Second
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ps := make([]*conns, hosts)
	lastFresh := make([]time.Time, hosts)
	for i := range ps {
		ps[i] = &conns{every: every, periodsFrom: start.Add(Offset(fmt.Sprintf("h%d.test", i), every) - every),
			newTransport: func() *http.Transport { return &http.Transport{} }}
	}
	checkAll := func(at time.Time) (fresh int) {
		for i, p := range ps {
			l := p.take(at)
			p.give(l, false, false)
			if l.fresh {
				fresh++
				lastFresh[i] = at
			} else if at.Sub(lastFresh[i]) > every {
				t.Fatalf("host %d at %s: not fresh, the last fresh check was %s before", i, at.Sub(start), at.Sub(lastFresh[i]))
			}
		}
		return fresh
	}
	if n := checkAll(start); n != hosts {
		t.Fatalf("%d of %d first checks fresh", n, hosts)
	}
	checkAll(start.Add(interval))
	// Nothing checked from 20 s to 50 s, then everything at 50 s: the
	// hosts whose renewal fell in the pause renew together.
	checkAll(start.Add(50 * time.Second))
	share := int(hosts * interval / every) // 100 a step when spread
	for at := 60 * time.Second; at <= 5*time.Minute; at += interval {
		n := checkAll(start.Add(at))
		if at >= 2*time.Minute && (n < share/2 || n > 2*share) {
			t.Errorf("at %s: %d of %d checks fresh, want about %d: renewals come in waves", at, n, hosts, share)
		}
	}
}

// A host no longer checked (gone from the config, or moved to another
// replica) is forgotten: the checker's per-host state does not grow with
// every host it ever checked, whether or not the keep-alive budget is
// full. One that asked to be left alone (429, Retry-After) is remembered
// until then.
func TestHostsNoLongerCheckedAreForgotten(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	clock := &fakeClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	c := newTestChecker(t, Options{Now: clock.Now, FreshEvery: time.Minute})
	check := func(u string) linkwatch.Result {
		t.Helper()
		clock.Advance(time.Second)
		return c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
	}
	for i := range 50 {
		check(named(t, srv.URL, fmt.Sprintf("gone%d.test", i)) + "/")
	}
	busy := named(t, srv.URL, "busy.test") + "/busy"
	if r := check(busy); r.Cause != linkwatch.CauseRateLimited {
		t.Fatalf("busy.test: cause %q, want rate_limited", r.Cause)
	}
	kept := named(t, srv.URL, "kept.test") + "/"
	// kept.test goes on being checked every 10 s; the others are not.
	for range 30 {
		clock.Advance(9 * time.Second)
		check(kept)
	}
	c.mu.Lock()
	var left []string
	for h := range c.hosts {
		left = append(left, h)
	}
	c.mu.Unlock()
	slices.Sort(left)
	// busy.test is forgotten as a host (its connections), not its
	// back-off, which is kept apart until it ends.
	if want := []string{"kept.test"}; !slices.Equal(left, want) {
		t.Errorf("hosts remembered after 5 minutes: %v, want %v", left, want)
	}
	if r := check(busy); r.Status != linkwatch.StatusSkipped || !strings.Contains(r.Summary, "asked to be left alone") {
		t.Errorf("busy.test after the sweep: cause %q (%s), want its back-off kept", r.Cause, r.Summary)
	}
}
