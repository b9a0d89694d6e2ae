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
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
)

// fakeResolver answers without DNS: *.invalid does not exist, a few names
// point at private addresses, every other name is loopback.
type fakeResolver struct{}

func (fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	switch {
	case strings.HasSuffix(host, ".invalid"):
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	case host == "private.test":
		return []net.IPAddr{{IP: net.ParseIP("10.1.2.3")}}, nil
	case host == "metadata.test":
		return []net.IPAddr{{IP: net.ParseIP("169.254.169.254")}}, nil
	}
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

func newTestChecker(t *testing.T, opts Options) *Checker {
	t.Helper()
	if opts.Resolver == nil {
		opts.Resolver = fakeResolver{}
	}
	if opts.AllowPrivate == nil {
		opts.AllowPrivate = loopback
	}
	if opts.Timeout == 0 {
		// A bound, not a measure: the tests of a timeout set theirs. Under
		// the race detector at a load of 33, a TLS handshake on loopback
		// took more than 2 s, and a self-signed certificate came out a
		// timeout.
		opts.Timeout = 10 * time.Second
	}
	return New(opts)
}

// named rewrites a test server URL to use a host name (resolved to loopback).
func named(t *testing.T, raw, host string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

func certPool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// expiredTLSServer serves with a certificate that expired yesterday, signed
// by a CA it returns, so the only fault is the expiry.
func expiredTLSServer(t *testing.T) (*httptest.Server, *x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-48 * time.Hour),
		NotAfter: time.Now().Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "expired.test"}, DNSNames: []string{"expired.test"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, caCert
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestCheckCauses(t *testing.T) {
	ok := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<h1>Welcome to the shop</h1>") })
	status := func(code int) *httptest.Server {
		return serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
	}
	slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	headless := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		fmt.Fprint(w, "ok")
	})
	loop := serve(t, func(w http.ResponseWriter, r *http.Request) {
		next := map[string]string{"/a": "/b", "/b": "/c", "/c": "/a"}[r.URL.Path]
		http.Redirect(w, r, next, http.StatusFound)
	})
	chain := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusMovedPermanently)
			return
		}
		fmt.Fprint(w, "arrived")
	})
	moved := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "elsewhere.test:"+strings.Split(r.Host, ":")[1] {
			http.Redirect(w, r, named(t, "http://"+r.Host+"/landing", "elsewhere.test"), http.StatusFound)
			return
		}
		fmt.Fprint(w, "landing")
	})
	toPrivate := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://metadata.test/latest/meta-data/", http.StatusFound)
	})
	toFile := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	// location answers its path's status with the Location in the query.
	location := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscanf(r.URL.Path, "/%d", &code)
		if loc := r.URL.Query().Get("to"); loc != "" {
			w.Header()["Location"] = []string{loc} // unvalidated, as a broken server sends it
		}
		w.WriteHeader(code)
	})
	selfSigned := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(selfSigned.Close)
	expired, expiredCA := expiredTLSServer(t)
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/"
	}()

	tests := []struct {
		name    string
		url     string
		expect  linkwatch.Expect
		opts    Options
		cause   linkwatch.Cause
		status  linkwatch.Status
		summary string
	}{
		{name: "up", url: ok.URL + "/", status: linkwatch.StatusUp},
		{name: "dns", url: "http://shop.invalid/", cause: linkwatch.CauseDNS, summary: "DNS lookup for shop.invalid: no such host"},
		{name: "refused", url: refused, cause: linkwatch.CauseConnectRefused, summary: "refused"},
		{name: "self-signed", url: named(t, selfSigned.URL, "example.com"), cause: linkwatch.CauseTLSUntrusted, summary: "unknown authority"},
		{name: "expired", url: named(t, expired.URL, "expired.test"), opts: Options{RootCAs: certPool(expiredCA)}, cause: linkwatch.CauseTLSExpired, summary: "expired on"},
		{name: "tls hostname", url: named(t, selfSigned.URL, "other.test"), opts: Options{RootCAs: certPool(selfSigned.Certificate())}, cause: linkwatch.CauseTLSHostname, summary: "not valid for other.test"},
		{name: "tls trusted", url: named(t, selfSigned.URL, "example.com"), opts: Options{RootCAs: certPool(selfSigned.Certificate())}, status: linkwatch.StatusUp},
		{name: "slow", url: slow.URL + "/", opts: Options{Timeout: 200 * time.Millisecond}, cause: linkwatch.CauseTimeout, summary: "did not answer in time"},
		{name: "404", url: status(404).URL + "/gone", cause: linkwatch.CauseHTTP4xx, summary: "404 Not Found at"},
		{name: "410", url: status(410).URL + "/gone", cause: linkwatch.CauseHTTP4xx, summary: "410 Gone"},
		{name: "500", url: status(500).URL + "/", cause: linkwatch.CauseHTTP5xx, summary: "500 Internal Server Error"},
		{name: "unexpected status", url: ok.URL + "/", expect: linkwatch.Expect{Status: []int{204}}, cause: linkwatch.CauseHTTP4xx, summary: "expected [204]"},
		{name: "expected status", url: status(404).URL + "/", expect: linkwatch.Expect{Status: []int{404}}, status: linkwatch.StatusUp},
		{name: "HEAD 405 then GET", url: headless.URL + "/", opts: Options{HEADFirst: true}, status: linkwatch.StatusUp},
		{name: "redirect loop", url: loop.URL + "/a", cause: linkwatch.CauseRedirectLoop, summary: "/a is visited twice"},
		{name: "10 redirects", url: chain.URL + "/hop/10", status: linkwatch.StatusUp},
		{name: "11 redirects", url: chain.URL + "/hop/11", cause: linkwatch.CauseTooManyRedirects, summary: "more than 10 redirects"},
		{name: "body missing text", url: ok.URL + "/", expect: linkwatch.Expect{BodyContains: "In stock"}, cause: linkwatch.CauseContentMismatch, summary: `"In stock" not found`},
		{name: "body has text", url: ok.URL + "/", expect: linkwatch.Expect{BodyContains: "Welcome"}, status: linkwatch.StatusUp},
		{name: "final host changed", url: named(t, moved.URL, "shop.test") + "/", expect: linkwatch.Expect{FinalHost: "shop.test"}, cause: linkwatch.CauseRedirectChanged, summary: "now ends on elsewhere.test, expected shop.test"},
		{name: "private without allow", url: "http://private.test/", cause: linkwatch.CauseBlocked, summary: "private.test resolves to 10.1.2.3"},
		{name: "loopback without allow", url: ok.URL + "/", opts: Options{AllowPrivate: []netip.Prefix{}}, cause: linkwatch.CauseBlocked, summary: "127.0.0.1 is a private or reserved address"},
		{name: "redirect to metadata", url: toPrivate.URL + "/", cause: linkwatch.CauseBlocked, summary: "169.254.169.254"},
		{name: "redirect to file", url: toFile.URL + "/", cause: linkwatch.CauseRedirectInvalid, summary: `redirects to "file:///etc/passwd", which is not an http(s) URL`},
		{name: "302 without Location", url: location.URL + "/302", cause: linkwatch.CauseRedirectInvalid, summary: "answered 302 Found without a Location"},
		{name: "307 without Location", url: location.URL + "/307", cause: linkwatch.CauseRedirectInvalid, summary: "answered 307 Temporary Redirect without a Location"},
		{name: "301 to an unreadable Location", url: location.URL + "/301?to=http://%5B::1", cause: linkwatch.CauseRedirectInvalid, summary: `with a Location that is not a URL: "http://[::1"`},
		{name: "302 to javascript:", url: location.URL + "/302?to=javascript:alert(1)", cause: linkwatch.CauseRedirectInvalid, summary: "not an http(s) URL"},
		{name: "302 to no host", url: location.URL + "/302?to=http:///x", cause: linkwatch.CauseRedirectInvalid, summary: "which has no host"},
		{name: "302 with a usable Location", url: location.URL + "/302?to=/200", status: linkwatch.StatusUp},
		// A 300 is followed like the others (browsers do); without a
		// Location a visitor gets a choice page at best, nowhere at worst.
		{name: "300 without Location", url: location.URL + "/300", cause: linkwatch.CauseRedirectInvalid, summary: "answered 300 Multiple Choices without a Location"},
		{name: "300 to a page that is gone", url: location.URL + "/300?to=/404", cause: linkwatch.CauseHTTP4xx, summary: "404 Not Found at " + location.URL + "/404"},
		{name: "300 with a usable Location", url: location.URL + "/300?to=/200", status: linkwatch.StatusUp},
		{name: "304 is not a redirect", url: location.URL + "/304", status: linkwatch.StatusUp},
		{name: "allowed private", url: "http://private.test:1/", opts: Options{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Timeout: 100 * time.Millisecond},
			summary: "10.1.2.3"}, // allowed through the guard: whatever happens next, it is not blocked
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestChecker(t, tt.opts)
			r := c.Check(context.Background(), linkwatch.Target{ID: tt.url, Kind: linkwatch.TargetDestination, URL: tt.url, Expect: tt.expect})
			if tt.name == "allowed private" {
				if r.Cause == linkwatch.CauseBlocked {
					t.Fatalf("allowed CIDR was blocked: %s", r.Summary)
				}
				return
			}
			wantStatus := tt.status
			if wantStatus == "" {
				wantStatus = linkwatch.StatusDown
			}
			if r.Cause != tt.cause || r.Status != wantStatus {
				t.Fatalf("cause %q status %q (%s; err %s), want %q %q", r.Cause, r.Status, r.Summary, r.Error, tt.cause, wantStatus)
			}
			if !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tt.summary)
			}
			if r.Latency <= 0 || r.Start.IsZero() {
				t.Errorf("latency %v, start %v", r.Latency, r.Start)
			}
		})
	}
}

// TestBackoffIsTheServersNotTheHosts: a back-off is asked by one server;
// another port of the same host is another server, which asked nothing,
// and a dead link there is still found dead (not skipped).
func TestBackoffIsTheServersNotTheHosts(t *testing.T) {
	busy := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	dead := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := newTestChecker(t, Options{Now: func() time.Time { return now }})
	if r := c.Check(context.Background(), linkwatch.Target{ID: "busy", URL: busy.URL + "/a"}); r.Cause != linkwatch.CauseRateLimited {
		t.Fatalf("busy server: %q %q", r.Cause, r.Summary)
	}
	r := c.Check(context.Background(), linkwatch.Target{ID: "dead", URL: dead.URL + "/gone"})
	if r.Status != linkwatch.StatusDown || r.Cause != linkwatch.CauseHTTP4xx || r.StatusCode != http.StatusNotFound {
		t.Errorf("another port of the host: %q %q %q, want down with its own 404", r.Status, r.Cause, r.Summary)
	}
	if r := c.Check(context.Background(), linkwatch.Target{ID: "busy2", URL: busy.URL + "/b"}); !r.Skipped() {
		t.Errorf("the busy server's other URL: %q %q, want skipped", r.Status, r.Summary)
	}
}

func TestRateLimitedHonoursRetryAfter(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := newTestChecker(t, Options{Now: func() time.Time { return now }})
	target := linkwatch.Target{ID: "x", URL: named(t, srv.URL, "busy.test") + "/a"}
	r := c.Check(context.Background(), target)
	if r.Cause != linkwatch.CauseRateLimited || r.Status != linkwatch.StatusDegraded || r.RetryAfter != 2*time.Minute {
		t.Fatalf("first check: %+v", r)
	}
	// Another URL on the same host, within the Retry-After: no request at
	// all, and no verdict either: it was not checked, and says until when.
	other := named(t, srv.URL, "busy.test") + "/b"
	r = c.Check(context.Background(), linkwatch.Target{ID: "y", URL: other})
	server := strings.TrimPrefix(named(t, srv.URL, "busy.test"), "http://")
	if r.Status != linkwatch.StatusSkipped || r.OK() || !r.Skipped() || r.Cause != linkwatch.CauseRateLimited || r.StatusCode != 0 || r.RetryAfter != 0 ||
		!r.SkippedUntil.Equal(now.Add(2*time.Minute)) || r.Summary != "not checked: "+server+" asked to be left alone until 12:02:00 UTC (429 Retry-After)" {
		t.Fatalf("second check: %+v", r)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server hit %d times, want 1: the back-off must hold requests", n)
	}
	now = now.Add(121 * time.Second)
	c.Check(context.Background(), target)
	if n := hits.Load(); n != 2 {
		t.Errorf("server hit %d times after the back-off, want 2", n)
	}
}

func TestPerHostConcurrency(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
	})
	c := newTestChecker(t, Options{PerHostConcurrency: 2, Timeout: 5 * time.Second})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			u := fmt.Sprintf("%s/%d", named(t, srv.URL, "polite.test"), i)
			c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		})
	}
	for inFlight.Load() < 2 {
		time.Sleep(time.Millisecond) // a poll: the requests arrive over loopback in real time
	}
	time.Sleep(50 * time.Millisecond) // give a third request the chance to (wrongly) arrive
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak in-flight requests to one host = %d, want 2", p)
	}
}

func TestHopsPhasesAndBodyCap(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/big", http.StatusFound)
			return
		}
		w.Write([]byte(strings.Repeat("x", 10000)))
	})
	c := newTestChecker(t, Options{MaxBodyBytes: 1000})
	u := named(t, srv.URL, "hops.test") + "/start"
	r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
	if r.Status != linkwatch.StatusUp || len(r.Hops) != 2 {
		t.Fatalf("result: %+v", r)
	}
	if r.Hops[0].StatusCode != 302 || r.Hops[0].Location != "/big" || r.Hops[1].StatusCode != 200 {
		t.Errorf("hops = %+v", r.Hops)
	}
	if p := r.Hops[0].Phases; p.DNS <= 0 || p.Connect <= 0 || p.FirstByte <= 0 {
		t.Errorf("first hop phases not measured: %+v", p)
	}
	if !strings.HasSuffix(r.FinalURL, "/big") {
		t.Errorf("final URL = %s", r.FinalURL)
	}
	if r.BytesRead != 1000+int64(len(`<a href="/big">Found</a>.`)+1) && r.BytesRead > 1100 {
		t.Errorf("bytes read = %d, want the body capped at 1000", r.BytesRead)
	}
}

func TestSelfCheck(t *testing.T) {
	hub := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(SelfCheckHeader) != "1" {
			http.Error(w, "self-check header missing", 400)
			return
		}
		switch r.URL.Path {
		case "/ada/go":
			w.Header().Set("Location", "https://go.dev/")
			w.WriteHeader(http.StatusFound)
		case "/ada/moved":
			w.Header().Set("Location", "https://go.dev/")
			w.WriteHeader(http.StatusMovedPermanently)
		case "/ada/slow":
			time.Sleep(120 * time.Millisecond) // a slow self-check: the latency under test is real time
			w.Header().Set("Location", "https://go.dev/")
			w.WriteHeader(http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	tests := []struct {
		path, want, alt string
		diverted        bool // the engine sends the link's visitors to alt
		cause           linkwatch.Cause
		status          linkwatch.Status
		summary         string
	}{
		{"/ada/go", "https://go.dev/", "", false, linkwatch.CauseNone, linkwatch.StatusUp, ""},
		{"/ada/go", "https://go.dev/doc/", "", false, linkwatch.CauseHubRedirectWrong, linkwatch.StatusDown, "redirects /ada/go to https://go.dev/, want https://go.dev/doc/"},
		// On its fallback while the engine diverts the link: the hub doing its job.
		{"/ada/go", "https://go.example/", "https://go.dev/", true, linkwatch.CauseNone, linkwatch.StatusUp, ""},
		// On its fallback while its destination is up: visitors sent away for nothing.
		{"/ada/go", "https://go.example/", "https://go.dev/", false, linkwatch.CauseHubRedirectWrong, linkwatch.StatusDown,
			"redirects /ada/go to its fallback https://go.dev/ while its destination is not down, want https://go.example/"},
		{"/ada/go", "https://go.example/", "https://go.example/backup", true, linkwatch.CauseHubRedirectWrong, linkwatch.StatusDown, "redirects /ada/go to https://go.dev/"},
		// Diverted, the hub may still answer the destination (it follows the
		// engine a moment later, or another replica's hub answered).
		{"/ada/go", "https://go.dev/", "https://go.example/backup", true, linkwatch.CauseNone, linkwatch.StatusUp, ""},
		{"/ada/moved", "https://go.dev/", "", false, linkwatch.CauseHubRedirectWrong, linkwatch.StatusDown, "answered 301"},
		{"/ada/missing", "https://go.dev/", "", false, linkwatch.CauseHubRedirectWrong, linkwatch.StatusDown, "answered 404"},
		{"/ada/slow", "https://go.dev/", "", false, linkwatch.CauseHubSlow, linkwatch.StatusDegraded, "took"},
	}
	var diverted atomic.Bool
	var asked atomic.Value // the check's start, as Diverted was asked
	// Self-checks reach the hub's own (loopback) address with no allow_private.
	c := newTestChecker(t, Options{AllowPrivate: []netip.Prefix{}, SlowThreshold: 100 * time.Millisecond,
		Diverted: func(_ linkwatch.Target, since time.Time) bool { asked.Store(since); return diverted.Load() }})
	for _, tt := range tests {
		diverted.Store(tt.diverted)
		r := c.Check(context.Background(), linkwatch.Target{ID: "self:" + tt.path, Kind: linkwatch.TargetSelfCheck, URL: hub.URL + tt.path, WantLocation: tt.want, AltLocation: tt.alt})
		if r.Cause != tt.cause || r.Status != tt.status || !strings.Contains(r.Summary, tt.summary) {
			t.Errorf("%s → %s (diverted %v): got %q %q %q", tt.path, tt.want, tt.diverted, r.Cause, r.Status, r.Summary)
		}
		if since, _ := asked.Swap(time.Time{}).(time.Time); !since.IsZero() && !since.Equal(r.Start) {
			t.Errorf("%s: Diverted asked since %v, want the check's start %v", tt.path, since, r.Start)
		}
	}
	// Without Diverted nothing is ever on its fallback.
	plain := newTestChecker(t, Options{AllowPrivate: []netip.Prefix{}})
	if r := plain.Check(context.Background(), linkwatch.Target{ID: "self:/ada/go", Kind: linkwatch.TargetSelfCheck, URL: hub.URL + "/ada/go",
		WantLocation: "https://go.example/", AltLocation: "https://go.dev/"}); r.Cause != linkwatch.CauseHubRedirectWrong {
		t.Errorf("on its fallback with no diversions known: %q %q, want hub_redirect_wrong", r.Cause, r.Summary)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"999999999", time.Hour},
		{"Sun, 22 Nov 2026 12:01:00 GMT", time.Minute},
		{"Sun, 22 Nov 2026 11:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1e9", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := ParseRetryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", v, d, maxRetryAfter)
		}
	})
}
