package main

import (
	"context"
	"crypto/tls"
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

// The floor makes one GET per check under the checker's policy: a host's
// first check is fresh (a new connection, a full handshake, HTTP/2), the
// checks after it reuse the kept connection, a failure makes the next
// check fresh, and a host past keep_alive_hosts resumes the fresh check's
// session over a new HTTP/1.1 connection per check.
func TestFloorFollowsTheFreshnessPolicy(t *testing.T) {
	t.Parallel()
	pool, certFile, keyFile, err := benchCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	var mu sync.Mutex
	var seen []string // proto and resumption of each request
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Proto+map[bool]string{true: " resumed", false: ""}[r.TLS.DidResume])
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/broken") {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	// An hour, so no renewal falls between the steps.
	f := newFloorProber(pool, time.Hour, 5*time.Second, 1)
	defer f.CloseIdleConnections()
	step := func(host, path string, wantUp, wantFresh bool, wantConns int32, wantSeen string) {
		t.Helper()
		u := "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
		r := f.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		mu.Lock()
		last := seen[len(seen)-1]
		mu.Unlock()
		if (r.Status == linkwatch.StatusUp) != wantUp || r.Fresh != wantFresh || conns.Load() != wantConns || last != wantSeen {
			t.Fatalf("%s%s: %s fresh %v, %d connections, server saw %q; want up %v fresh %v, %d, %q",
				host, path, r.Status, r.Fresh, conns.Load(), last, wantUp, wantFresh, wantConns, wantSeen)
		}
	}
	step("a.bench.test", "/", true, true, 1, "HTTP/2.0")  // a keeps its connection: the budget's one place
	step("a.bench.test", "/", true, false, 1, "HTTP/2.0") // reused
	step("a.bench.test", "/broken", false, false, 1, "HTTP/2.0")
	step("a.bench.test", "/", true, true, 2, "HTTP/2.0") // fresh after the failure
	step("b.bench.test", "/", true, true, 3, "HTTP/2.0") // no place for b
	step("b.bench.test", "/", true, false, 4, "HTTP/1.1 resumed")
	step("b.bench.test", "/", true, false, 5, "HTTP/1.1 resumed")
}
