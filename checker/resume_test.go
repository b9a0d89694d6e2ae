package checker

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
)

// handshake is what a server saw of one TLS handshake.
type handshake struct {
	host    string
	resumed bool
	curve   tls.CurveID
	proto   string // ALPN
}

// handshakeLog records a server's handshakes, full and resumed alike.
type handshakeLog struct {
	mu   sync.Mutex
	seen []handshake
}

// take returns the handshakes seen since the last take.
func (l *handshakeLog) take() []handshake {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.seen
	l.seen = nil
	return out
}

// handshakeServer serves HTTPS (HTTP/2 or HTTP/1.1, as the client offers)
// with whatever certificate cert holds, issues session tickets as any Go
// server does, and logs every handshake as the server saw it.
func handshakeServer(t *testing.T, cert *atomic.Pointer[tls.Certificate], h http.HandlerFunc) (*httptest.Server, *handshakeLog) {
	t.Helper()
	log := &handshakeLog{}
	srv, _ := unstartedCounting(h)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.Load(), nil },
		// Called after every handshake, resumed or not (no client
		// certificate is asked for).
		VerifyConnection: func(cs tls.ConnectionState) error {
			log.mu.Lock()
			log.seen = append(log.seen, handshake{host: cs.ServerName, resumed: cs.DidResume, curve: cs.CurveID, proto: cs.NegotiatedProtocol})
			log.mu.Unlock()
			return nil
		},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, log
}

// A host that keeps no connection (the budget is taken by another) is
// checked between fresh checks over new connections that resume the TLS
// session: such a check is not fresh, and says it resumed. A fresh check
// never resumes: the server sees a full handshake, with the hybrid
// post-quantum key share a browser offers, over HTTP/2; the resumed ones
// offer P-256, over HTTP/1.1. And a fresh one still comes at least
// every fresh_every.
func TestChecksBetweenFreshOnesResumeAndSaySo(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ca := newTestCA(t, "Test Root", start.Add(-time.Hour), start.Add(365*24*time.Hour))
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(ca.Leaf("shop.test", start.Add(-time.Hour), start.Add(90*24*time.Hour)))
	var protos sync.Map // path → r.Proto of its last request
	srv, log := handshakeServer(t, &cert, func(w http.ResponseWriter, r *http.Request) { protos.Store(r.URL.Path, r.Proto) })
	clock := &fakeClock{now: start}
	c := newTestChecker(t, Options{RootCAs: certPool(ca.cert), Now: clock.Now, FreshEvery: time.Minute, KeepAliveHosts: 1})
	c.budget.take() // another host has the budget's one place
	check := func(host string) linkwatch.Result {
		t.Helper()
		u := named(t, srv.URL, host) + "/" + host
		r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		if r.Status != linkwatch.StatusUp {
			t.Fatalf("%s: %q %q (%s)", host, r.Cause, r.Summary, r.Error)
		}
		return r
	}

	var fresh, resumed int
	lastFresh := clock.Now()
	for i := range 30 {
		r := check("shop.test")
		seen := log.take()
		if len(seen) != 1 || len(r.Hops) != 1 {
			t.Fatalf("check %d: the server saw handshakes %+v for hops %+v, want one", i, seen, r.Hops)
		}
		hs, hop := seen[0], r.Hops[0]
		proto, _ := protos.Load("/shop.test")
		if !hop.NewConn || hop.Phases.DNS <= 0 || hop.Phases.Connect <= 0 || hop.Phases.TLS <= 0 {
			t.Errorf("check %d: a host keeping no connection resolves, connects and shakes hands every check: %+v", i, hop)
		}
		if r.Fresh {
			fresh++
			if hs.resumed || hop.Resumed {
				t.Errorf("check %d is fresh, but the server saw resumed %v, the hop says resumed %v", i, hs.resumed, hop.Resumed)
			}
			if hs.curve != tls.X25519MLKEM768 || hs.proto != "h2" || proto != "HTTP/2.0" {
				t.Errorf("check %d is fresh, but offered %v over %q (%v): not what a browser offers", i, hs.curve, hs.proto, proto)
			}
			lastFresh = clock.Now()
		} else {
			resumed++
			if !hs.resumed || !hop.Resumed {
				t.Errorf("check %d is not fresh: the server saw resumed %v, the hop says resumed %v; want both", i, hs.resumed, hop.Resumed)
			}
			if hs.curve != tls.CurveP256 || proto != "HTTP/1.1" {
				t.Errorf("check %d resumed with %v over %v, want P-256 over HTTP/1.1", i, hs.curve, proto)
			}
		}
		if i == 0 && !r.Fresh {
			t.Fatal("the host's first check was not fresh")
		}
		if since := clock.Now().Sub(lastFresh); since >= time.Minute {
			t.Fatalf("check %d: no fresh check for %s", i, since)
		}
		clock.Advance(10 * time.Second)
	}
	if fresh < 5 || resumed < 20 {
		t.Errorf("%d fresh and %d resumed checks of 30 at 10 s, fresh_every 1m: want one fresh a minute, the others resumed", fresh, resumed)
	}
}

// With every check fresh (fresh_every 0), none resumes, even with sessions
// on offer.
func TestFreshAlwaysNeverResumes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := newTestCA(t, "Test Root", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(ca.Leaf("shop.test", now.Add(-time.Hour), now.Add(90*24*time.Hour)))
	srv, log := handshakeServer(t, &cert, func(w http.ResponseWriter, r *http.Request) {})
	c := newTestChecker(t, Options{RootCAs: certPool(ca.cert), FreshEvery: 0, KeepAliveHosts: 1})
	u := named(t, srv.URL, "shop.test") + "/"
	for i := range 5 {
		if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Status != linkwatch.StatusUp || !r.Fresh || r.Hops[0].Resumed {
			t.Fatalf("check %d: %q fresh %v resumed %v", i, r.Status, r.Fresh, r.Hops[0].Resumed)
		}
	}
	for _, hs := range log.take() {
		if hs.resumed {
			t.Fatalf("the server saw a resumed handshake: %+v", hs)
		}
	}
}

// Behind resumed sessions, as behind a kept-alive connection, the
// certificate is the one the last fresh check verified: a certificate
// swapped for an expired one is seen by the next fresh check, and the
// check confirming it is fresh too. DNS and the listener are not hidden at
// all: a resumed check resolves and connects anew.
func TestResumedChecksHideOnlyTheCertificate(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ca := newTestCA(t, "Test Root", start.Add(-time.Hour), start.Add(365*24*time.Hour))
	tests := []struct {
		name    string
		change  func(srv *httptest.Server, cert *atomic.Pointer[tls.Certificate], res *switchResolver)
		hidden  bool // until the next fresh check
		cause   linkwatch.Cause
		summary string
	}{
		{"certificate swapped for an expired one", func(_ *httptest.Server, cert *atomic.Pointer[tls.Certificate], _ *switchResolver) {
			cert.Store(ca.Leaf("shop.test", start.Add(-48*time.Hour), start.Add(-24*time.Hour)))
		}, true, linkwatch.CauseTLSExpired, "TLS certificate for shop.test expired on"},
		{"domain answers NXDOMAIN", func(_ *httptest.Server, _ *atomic.Pointer[tls.Certificate], res *switchResolver) {
			res.nx.Store(true)
		}, false, linkwatch.CauseDNS, "DNS lookup for shop.test: no such host"},
		{"new connections refused", func(srv *httptest.Server, _ *atomic.Pointer[tls.Certificate], _ *switchResolver) {
			srv.Listener.Close()
		}, false, linkwatch.CauseConnectRefused, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cert atomic.Pointer[tls.Certificate]
			cert.Store(ca.Leaf("shop.test", start.Add(-time.Hour), start.Add(90*24*time.Hour)))
			srv, _ := handshakeServer(t, &cert, func(w http.ResponseWriter, r *http.Request) {})
			res := &switchResolver{}
			clock := &fakeClock{now: start}
			// No place in the budget is left for shop.test.
			c := newTestChecker(t, Options{Resolver: res, RootCAs: certPool(ca.cert), Now: clock.Now, FreshEvery: time.Minute, KeepAliveHosts: 1})
			c.budget.take()
			u := named(t, srv.URL, "shop.test") + "/"
			check := func() linkwatch.Result { return c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}) }

			if r := check(); r.Status != linkwatch.StatusUp || !r.Fresh {
				t.Fatalf("first check: %q %q fresh %v", r.Status, r.Summary, r.Fresh)
			}
			renewFirstGeneration(t, clock, check)
			tt.change(srv, &cert, res)
			if tt.hidden {
				for range 5 {
					clock.Advance(10 * time.Second)
					if r := check(); r.Status != linkwatch.StatusUp || r.Fresh || !r.Hops[0].Resumed {
						t.Fatalf("at %s, within fresh_every: %q %q fresh %v", clock.Now().Sub(start), r.Status, r.Summary, r.Fresh)
					}
				}
			}
			for i := range 2 { // the first check to see it, then the confirming one
				clock.Advance(10 * time.Second)
				r := check()
				if r.Cause != tt.cause || r.Status != linkwatch.StatusDown || !strings.Contains(r.Summary, tt.summary) {
					t.Fatalf("check %d at %s: cause %q summary %q, want %q", i, clock.Now().Sub(start), r.Cause, r.Summary, tt.cause)
				}
				if tt.hidden && !r.Fresh {
					t.Errorf("check %d at %s was not fresh", i, clock.Now().Sub(start))
				}
				if len(r.Hops) == 1 && r.Hops[0].Resumed {
					t.Errorf("check %d at %s resumed a session", i, clock.Now().Sub(start))
				}
			}
		})
	}
}

// The checks between fresh ones resume the session of the host's last
// fresh check, never one from a ticket issued on a resumed connection:
// such a ticket carries the chain of the session it resumed, and a
// resumed check that began before a fresh check and got its ticket after
// would replace the chain just verified with the older one. The server
// here marks which of its tickets were issued on a resumed connection.
func TestResumedChecksResumeTheFreshChecksSession(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := newTestCA(t, "Test Root", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(ca.Leaf("shop.test", now.Add(-time.Hour), now.Add(90*24*time.Hour)))
	var (
		mu        sync.Mutex
		onResumed = map[string]bool{} // ticket → issued on a resumed connection
		presented []bool              // per resumption: was its ticket issued on a resumed connection
	)
	ticketer := &tls.Config{} // its own ticket keys
	srv, _ := unstartedCounting(func(w http.ResponseWriter, r *http.Request) {})
	srv.TLS = &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.Load(), nil },
		WrapSession: func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
			ticket, err := ticketer.EncryptTicket(cs, ss)
			mu.Lock()
			onResumed[string(ticket)] = cs.DidResume
			mu.Unlock()
			return ticket, err
		},
		UnwrapSession: func(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
			mu.Lock()
			presented = append(presented, onResumed[string(ticket)])
			mu.Unlock()
			return ticketer.DecryptTicket(ticket, cs)
		},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	clock := &fakeClock{now: now}
	c := newTestChecker(t, Options{RootCAs: certPool(ca.cert), Now: clock.Now, FreshEvery: time.Minute, KeepAliveHosts: 1})
	c.budget.take()
	u := named(t, srv.URL, "shop.test") + "/"
	var resumed int
	for i := range 20 {
		r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		if r.Status != linkwatch.StatusUp {
			t.Fatalf("check %d: %q %q", i, r.Cause, r.Summary)
		}
		if r.Hops[0].Resumed {
			resumed++
		}
		clock.Advance(10 * time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	if resumed < 10 || len(presented) != resumed {
		t.Fatalf("%d checks resumed, the server saw %d tickets: want most checks to resume, each with a ticket", resumed, len(presented))
	}
	for i, fromResumed := range presented {
		if fromResumed {
			t.Errorf("resumption %d presented a ticket issued on a resumed connection", i)
		}
	}
}

// A server that accepts none of the groups a check between fresh ones
// offers (one set to X25519 alone, against TLS 1.3's mandatory P-256) has
// not failed a visitor: the check is made again, fresh, and comes back up;
// the host's later checks resume with a browser's offer.
func TestRefusedKeyShareOfferIsNotAnOutage(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := newTestCA(t, "Test Root", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(ca.Leaf("shop.test", now.Add(-time.Hour), now.Add(90*24*time.Hour)))
	srv, log := handshakeServer(t, &cert, func(w http.ResponseWriter, r *http.Request) {})
	srv.TLS.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.X25519}
	clock := &fakeClock{now: now}
	c := newTestChecker(t, Options{RootCAs: certPool(ca.cert), Now: clock.Now, FreshEvery: time.Minute, KeepAliveHosts: 1})
	c.budget.take()
	u := named(t, srv.URL, "shop.test") + "/"
	check := func() linkwatch.Result {
		t.Helper()
		r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		if r.Status != linkwatch.StatusUp {
			t.Fatalf("at %s: %q %q (%s)", clock.Now().Sub(now), r.Cause, r.Summary, r.Error)
		}
		return r
	}
	if r := check(); !r.Fresh {
		t.Fatal("the first check was not fresh")
	}
	clock.Advance(10 * time.Second)
	if r := check(); !r.Fresh || r.Hops[0].Resumed || len(r.Hops) != 1 {
		t.Fatalf("the check whose offer was refused, made again: fresh %v hops %+v; want one fresh hop", r.Fresh, r.Hops)
	}
	log.take()
	// Within the next fresh_every: the host's renewal, and checks that
	// resume with a browser's offer.
	var resumed int
	for range 5 {
		clock.Advance(10 * time.Second)
		switch r := check(); {
		case r.Hops[0].Resumed:
			resumed++
		case !r.Fresh:
			t.Fatalf("at %s: neither resumed nor fresh", clock.Now().Sub(now))
		}
	}
	if resumed < 4 {
		t.Errorf("%d of 5 checks within fresh_every resumed, want all but the host's renewal", resumed)
	}
	for _, hs := range log.take() {
		if hs.resumed && hs.curve != tls.X25519MLKEM768 {
			t.Errorf("the server saw %+v, want resumed with X25519MLKEM768", hs)
		}
	}
}

// Two ports of one host are two servers, and a session of one is never
// offered to the other. Here they share their ticket keys (one server
// process, two listeners), so the second would resume the first's session
// if offered it: a check of the second, between fresh ones, would then
// rely on the first's certificate, verified for the first, and never see
// that its own has expired.
func TestSessionsAreOneServersNotTheHosts(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ca := newTestCA(t, "Test Root", start.Add(-time.Hour), start.Add(365*24*time.Hour))
	var ticketKey [32]byte
	copy(ticketKey[:], "one process, two listeners, key")
	listen := func(cert *tls.Certificate) (*httptest.Server, *handshakeLog) {
		log := &handshakeLog{}
		srv, _ := unstartedCounting(func(http.ResponseWriter, *http.Request) {})
		srv.TLS = &tls.Config{
			Certificates: []tls.Certificate{*cert},
			VerifyConnection: func(cs tls.ConnectionState) error {
				log.mu.Lock()
				log.seen = append(log.seen, handshake{host: cs.ServerName, resumed: cs.DidResume})
				log.mu.Unlock()
				return nil
			},
		}
		srv.TLS.SetSessionTicketKeys([][32]byte{ticketKey})
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv, log
	}
	good, goodLog := listen(ca.Leaf("shop.test", start.Add(-time.Hour), start.Add(90*24*time.Hour)))
	stale, staleLog := listen(ca.Leaf("shop.test", start.Add(-48*time.Hour), start.Add(-24*time.Hour)))
	clock := &fakeClock{now: start}
	c := newTestChecker(t, Options{RootCAs: certPool(ca.cert), Now: clock.Now, FreshEvery: time.Minute, KeepAliveHosts: 1})
	c.budget.take() // shop.test keeps no connection: between fresh checks, one-shot ones that may resume
	check := func(srv *httptest.Server) linkwatch.Result {
		u := named(t, srv.URL, "shop.test") + "/"
		return c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
	}

	if r := check(good); r.Status != linkwatch.StatusUp || !r.Fresh {
		t.Fatalf("first check of shop.test, on %s: %q %q fresh %v", good.URL, r.Status, r.Summary, r.Fresh)
	}
	// Between fresh checks (the clock stands still: none is due), the
	// server resumes its own session.
	if r := check(good); r.Status != linkwatch.StatusUp || r.Fresh || len(r.Hops) != 1 || !r.Hops[0].Resumed {
		t.Fatalf("shop.test on its first port again: %q %q fresh %v hops %+v; want up, resumed", r.Status, r.Summary, r.Fresh, r.Hops)
	}
	goodLog.take()
	// The host's next check is not due to be fresh either, but the other
	// port has no session of its own: a full handshake sees its
	// certificate.
	r := check(stale)
	if r.Cause != linkwatch.CauseTLSExpired || len(r.Hops) != 1 || r.Hops[0].Resumed {
		t.Errorf("the other port of shop.test: %q %q, hops %+v; want tls_expired from a full handshake", r.Status, r.Summary, r.Hops)
	}
	for _, hs := range staleLog.take() {
		if hs.resumed {
			t.Errorf("the other port resumed a session: %+v", hs)
		}
	}
}

// A server that accepts the connection and never answers the TLS hello
// fails the check at its timeout, and the handshake, which the transport
// lets go on for a later request's sake once the check has given up on it,
// is abandoned within the timeout too: no connection is left hanging. The
// unlucky case is a check between fresh ones of a host keeping no
// connection: nothing closes the shared one-shot transport's dials.
func TestAStalledHandshakeIsAbandoned(t *testing.T) {
	t.Parallel()
	good := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(good.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	closed := make(chan struct{})
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.Copy(io.Discard, conn) // the hello, and nothing back, until the client hangs up
		close(closed)
	}()
	clock := &fakeClock{now: time.Now()}
	// The timeout ends the stalled handshake; the good one, on a loaded
	// machine (-race, a load of 15), needs more than 300ms.
	c := newTestChecker(t, Options{Timeout: 2 * time.Second, RootCAs: certPool(good.Certificate()), Now: clock.Now, FreshEvery: time.Minute, KeepAliveHosts: 1})
	c.budget.take()
	u := named(t, good.URL, "example.com") + "/"
	if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Status != linkwatch.StatusUp || !r.Fresh {
		t.Fatalf("the host's fresh check: %q %q", r.Status, r.Summary)
	}
	u = "https://" + net.JoinHostPort("example.com", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/"
	if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Cause != linkwatch.CauseTimeout {
		t.Errorf("cause %q (%s), want timeout", r.Cause, r.Summary)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // a bound on a broken test, not a timing
		t.Fatal("the stalled handshake's connection is still open")
	}
}
