package checker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/checker"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite/sqlitetest"
)

type loopbackResolver struct{}

func (loopbackResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}

// A kept-alive HTTPS destination whose certificate is swapped for an
// expired one becomes a tls_expired incident within fresh_every plus
// threshold × interval, however well the old connection keeps answering.
// The swap comes right after a fresh check: the unlucky moment, a whole
// fresh_every before the next one. (The first connection is renewed at
// the host's phase, within fresh_every; the swap waits for that renewal.)
func TestSwappedCertificateBecomesAnIncident(t *testing.T) {
	t.Parallel()
	const (
		interval   = 10 * time.Second
		freshEvery = time.Minute
		threshold  = 2
	)
	start := time.Now()
	var now atomic.Int64
	now.Store(start.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }

	ca := checker.NewTestCA(t, "Test Root", start.Add(-time.Hour), start.Add(365*24*time.Hour))
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(ca.Leaf("shop.test", start.Add(-time.Hour), start.Add(90*24*time.Hour)))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.Load(), nil }}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	target := linkwatch.Target{ID: "https://shop.test:" + u.Port() + "/", Kind: linkwatch.TargetDestination, URL: "https://shop.test:" + u.Port() + "/"}

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert())
	c := checker.New(checker.Options{Resolver: loopbackResolver{}, AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		RootCAs: roots, Now: clock, FreshEvery: freshEvery, Timeout: 2 * time.Second})
	db := sqlitetest.MustOpen(t)
	ctx := context.Background()
	eng, err := incidents.NewEngine(ctx, incidents.Config{FailureThreshold: threshold}, db, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	if r := c.Check(ctx, target); r.Status != linkwatch.StatusUp || !r.Fresh {
		t.Fatalf("first check: %q %q fresh %v", r.Status, r.Summary, r.Fresh)
	}
	swapAt := time.Duration(0)
	for {
		swapAt += interval
		now.Store(start.Add(swapAt).UnixNano())
		r := c.Check(ctx, target)
		if r.Status != linkwatch.StatusUp {
			t.Fatalf("before the swap: %q %q", r.Cause, r.Summary)
		}
		if r.Fresh {
			break
		}
		if swapAt > freshEvery {
			t.Fatal("no fresh check within fresh_every of the first")
		}
	}
	cert.Store(ca.Leaf("shop.test", start.Add(-48*time.Hour), start.Add(-24*time.Hour)))
	hidden := 0
	for at := interval; at <= freshEvery+threshold*interval; at += interval {
		now.Store(start.Add(swapAt + at).UnixNano())
		r := c.Check(ctx, target)
		if r.Status == linkwatch.StatusUp {
			hidden++
		}
		if err := eng.Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
		open, err := db.OpenIncidents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) == 1 && open[0].Cause == linkwatch.CauseTLSExpired {
			if hidden == 0 {
				t.Error("no check was answered over the kept-alive connection: this test is about that connection")
			}
			return
		}
	}
	t.Fatalf("no tls_expired incident within fresh_every + %d × interval of the swap", threshold)
}
