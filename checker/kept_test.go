package checker

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
)

// keptServer is an HTTPS server offering HTTP/2 (handshakeServer) for
// shop.test, and a checker of it with room to keep its connections.
type keptServer struct {
	srv    interface{ CloseClientConnections() }
	log    *handshakeLog
	protos *sync.Map // path → r.Proto of its last request
	clock  *fakeClock
	c      *Checker
	check  func() linkwatch.Result
}

func newKeptServer(t *testing.T, curves ...tls.CurveID) *keptServer {
	t.Helper()
	start := time.Now()
	ca := newTestCA(t, "Test Root", start.Add(-time.Hour), start.Add(365*24*time.Hour))
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(ca.Leaf("shop.test", start.Add(-time.Hour), start.Add(90*24*time.Hour)))
	protos := &sync.Map{}
	srv, log := handshakeServer(t, &cert, func(w http.ResponseWriter, r *http.Request) { protos.Store(r.URL.Path, r.Proto) })
	srv.TLS.CurvePreferences = curves
	clock := &fakeClock{now: start}
	c := newTestChecker(t, Options{RootCAs: certPool(ca.cert), Now: clock.Now, FreshEvery: time.Minute})
	u := named(t, srv.URL, "shop.test") + "/"
	k := &keptServer{srv: srv, log: log, protos: protos, clock: clock, c: c}
	k.check = func() linkwatch.Result {
		t.Helper()
		r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		if r.Status != linkwatch.StatusUp {
			t.Fatalf("at %s: %q %q (%s)", clock.Now().Sub(start), r.Cause, r.Summary, r.Error)
		}
		return r
	}
	return k
}

func (k *keptServer) proto() string {
	p, _ := k.protos.Load("/")
	s, _ := p.(string)
	return s
}

// renew checks every 10 s until a check is fresh (the host's renewal, at
// its phase), and returns it; the handshake log then holds its handshakes
// alone.
func (k *keptServer) renew(t *testing.T) linkwatch.Result {
	t.Helper()
	for range 7 {
		k.clock.Advance(10 * time.Second)
		k.log.take()
		if r := k.check(); r.Fresh {
			return r
		}
	}
	t.Fatal("no fresh check within fresh_every")
	return linkwatch.Result{}
}

// A fresh check speaks HTTP/2 when the server offers it, as a browser
// does; the connection the host keeps until its next fresh check is
// HTTP/1.1 with small buffers, opened by the next check resuming the
// fresh check's session, and reused by the checks after it.
func TestKeptConnectionIsHTTP1AfterAnHTTP2FreshCheck(t *testing.T) {
	t.Parallel()
	k := newKeptServer(t)
	k.check()
	for round := range 2 {
		r := k.renew(t)
		seen := k.log.take()
		if !r.Fresh || k.proto() != "HTTP/2.0" || len(seen) != 1 || seen[0].resumed || seen[0].curve != tls.X25519MLKEM768 {
			t.Fatalf("round %d, fresh check: fresh %v over %q, handshakes %+v; want fresh, HTTP/2.0, one full handshake with a browser's offer", round, r.Fresh, k.proto(), seen)
		}
		k.clock.Advance(10 * time.Second)
		r = k.check()
		seen = k.log.take()
		if r.Fresh || k.proto() != "HTTP/1.1" || !r.Hops[0].NewConn || !r.Hops[0].Resumed || len(seen) != 1 || !seen[0].resumed || seen[0].curve != tls.CurveP256 {
			t.Fatalf("round %d, the check after: fresh %v over %q, hop %+v, handshakes %+v; want a new HTTP/1.1 connection resuming with P-256", round, r.Fresh, k.proto(), r.Hops[0], seen)
		}
		k.clock.Advance(10 * time.Second)
		r = k.check()
		if seen := k.log.take(); r.Fresh || k.proto() != "HTTP/1.1" || r.Hops[0].NewConn || len(seen) != 0 {
			t.Fatalf("round %d, the next: fresh %v over %q, hop %+v, handshakes %+v; want the kept HTTP/1.1 connection reused", round, r.Fresh, k.proto(), r.Hops[0], seen)
		}
	}
	kept := k.c.host("shop.test").conns.current
	if kept == nil || kept.ReadBufferSize != connBufferSize || kept.WriteBufferSize != connBufferSize || kept.Protocols.HTTP2() || !kept.Protocols.HTTP1() {
		t.Fatalf("the kept transport: %+v; want HTTP/1.1 alone, buffers of %d", kept, connBufferSize)
	}
}

// A kept connection the server closes while idle is not an outage: the
// transport retries the check on a new connection (resuming again), and
// the checks after reuse that one.
func TestKeptConnectionClosedByTheServer(t *testing.T) {
	t.Parallel()
	k := newKeptServer(t)
	k.check()
	k.renew(t) // the next renewal is a minute away
	for range 2 {
		k.clock.Advance(10 * time.Second)
		k.check()
	}
	k.srv.CloseClientConnections()
	k.clock.Advance(10 * time.Second)
	if r := k.check(); r.Fresh || !r.Hops[0].NewConn || !r.Hops[0].Resumed {
		t.Fatalf("after the server closed the kept connection: fresh %v, hop %+v; want a new connection, resumed", r.Fresh, r.Hops[0])
	}
	k.clock.Advance(10 * time.Second)
	if r := k.check(); r.Hops[0].NewConn {
		t.Fatalf("the check after: hop %+v, want the new connection reused", r.Hops[0])
	}
	if k.proto() != "HTTP/1.1" {
		t.Errorf("over %q, want HTTP/1.1", k.proto())
	}
}

// A server that refuses the kept connection's reduced key-share offer has
// not failed a visitor: the check is made again, fresh, and the host's
// kept connections from then on resume with a browser's offer.
func TestKeptConnectionsRefusedOfferIsNotAnOutage(t *testing.T) {
	t.Parallel()
	k := newKeptServer(t, tls.X25519MLKEM768, tls.X25519)
	k.check()
	// Within two fresh_every (every check up, or check fails the test):
	// the refused check made again fresh, the host's renewals, and
	// checks over a kept connection that resumed with a browser's offer.
	var resumed, reused int
	for range 12 {
		k.clock.Advance(10 * time.Second)
		k.log.take()
		r := k.check()
		switch seen := k.log.take(); {
		case r.Fresh:
		case r.Hops[0].Resumed:
			resumed++
			if len(seen) != 1 || seen[0].curve != tls.X25519MLKEM768 || k.proto() != "HTTP/1.1" {
				t.Errorf("at %s: handshakes %+v over %q; want HTTP/1.1 resumed with a browser's offer", k.clock.Now().Format(time.TimeOnly), seen, k.proto())
			}
		case !r.Hops[0].NewConn:
			reused++
		default:
			t.Errorf("a new connection neither fresh nor resumed: %+v", r.Hops[0])
		}
	}
	if resumed < 1 || reused < 4 {
		t.Errorf("%d resumed and %d reused kept connections in 12 checks; want at least one a fresh_every, reused after", resumed, reused)
	}
}
