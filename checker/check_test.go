package checker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"linkwatch"
)

// hangingAddr returns a loopback address whose accept queue is full, so a
// new connection hangs in SYN_SENT: Linux drops SYNs to a full queue.
func hangingAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 4 { // fill the queue; the first dial that hangs proves it full
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill the accept queue on this system")
	return ""
}

func TestConnectTimeoutIsNotASlowAnswer(t *testing.T) {
	t.Parallel()
	addr := hangingAddr(t)
	c := newTestChecker(t, Options{Timeout: 300 * time.Millisecond})
	r := c.Check(context.Background(), linkwatch.Target{ID: "x", URL: "http://" + addr + "/"})
	if r.Cause != linkwatch.CauseConnectTimeout || r.Status != linkwatch.StatusDown || !strings.Contains(r.Summary, "connecting to "+addr+" timed out") {
		t.Fatalf("cause %q status %q summary %q (err %s), want connect_timeout", r.Cause, r.Status, r.Summary, r.Error)
	}
}

// Waiting for a host's turn is our queueing, not the destination's
// slowness: it must not time the check out. Four checks of a host that
// answers in 150ms, one at a time, take 600ms in all; each must still fit
// its own 400ms timeout.
func TestQueueingDoesNotEatTheTimeout(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(150 * time.Millisecond) }) // a destination that answers slowly: the timeout under test is real time
	c := newTestChecker(t, Options{PerHostConcurrency: 1, Timeout: 400 * time.Millisecond})
	results := make([]linkwatch.Result, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			u := fmt.Sprintf("%s/%d", named(t, srv.URL, "queue.test"), i)
			results[i] = c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.Status != linkwatch.StatusUp {
			t.Errorf("check %d: %q %q, want up", i, r.Cause, r.Summary)
		}
	}
}

func TestBlockedMakesNoConnection(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	srv.Config.ConnState = func(net.Conn, http.ConnState) { conns.Add(1) }
	c := newTestChecker(t, Options{AllowPrivate: []netip.Prefix{}})
	u := named(t, srv.URL, "shop.test") + "/"
	r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
	if r.Cause != linkwatch.CauseBlocked || !strings.Contains(r.Summary, "shop.test resolves to 127.0.0.1") {
		t.Fatalf("cause %q summary %q", r.Cause, r.Summary)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connection events at the blocked address, want none", n)
	}
}

// A check that waited for its host's turn while another check of the host
// got a 429 with Retry-After is not made: it is skipped like a check that
// began after the 429, and the host gets no request it asked not to get.
func TestCheckWaitingItsTurnHonoursABackoffAskedMeanwhile(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	answer := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			<-answer
		}
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := newTestChecker(t, Options{PerHostConcurrency: 1, Now: func() time.Time { return now }})
	check := func(path string) linkwatch.Result {
		u := named(t, srv.URL, "busy.test") + path
		return c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
	}
	first := make(chan linkwatch.Result, 1)
	go func() { first <- check("/a") }()
	for hits.Load() == 0 {
		runtime.Gosched()
	}
	second := make(chan linkwatch.Result, 1)
	go func() { second <- check("/b") }()
	waitForHostTurn(t)
	close(answer)
	if r := <-first; r.Status != linkwatch.StatusDegraded || r.Cause != linkwatch.CauseRateLimited {
		t.Fatalf("the check that got the 429: %q %q", r.Status, r.Summary)
	}
	r := <-second
	if r.Status != linkwatch.StatusSkipped || !r.SkippedUntil.Equal(now.Add(time.Minute)) || len(r.Hops) != 0 {
		t.Errorf("the check that waited its turn: %q %q, until %s, hops %+v; want skipped until 12:01", r.Status, r.Summary, r.SkippedUntil, r.Hops)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the host got %d requests, want 1", n)
	}
}

// waitForHostTurn waits until a check is blocked waiting for its host's
// turn (checkDestination's own select, not one deeper in a request).
func waitForHostTurn(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a bound on a broken test, not a timing
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			for _, line := range strings.Split(g, "\n") {
				if strings.HasPrefix(line, "goroutine ") || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "runtime.") {
					continue
				}
				if strings.HasPrefix(line, "linkwatch/checker.(*Checker).checkDestination(") {
					return
				}
				break
			}
		}
		time.Sleep(time.Millisecond) // a poll of the goroutines' stacks: no event marks the wait
	}
	t.Fatal("no check came to wait for its host's turn")
}

// The back-off belongs to the host that answered 429, wherever the chain
// began.
func TestBackoffFollowsTheAnsweringHost(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, named(t, "http://"+r.Host, "api.test")+"/x", http.StatusFound)
			return
		}
		hits.Add(1)
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := newTestChecker(t, Options{Now: func() time.Time { return now }})
	short := named(t, srv.URL, "short.test") + "/"
	if r := c.Check(context.Background(), linkwatch.Target{ID: short, URL: short}); r.Cause != linkwatch.CauseRateLimited {
		t.Fatalf("first: %q %q", r.Cause, r.Summary)
	}
	api := named(t, srv.URL, "api.test") + "/x"
	r := c.Check(context.Background(), linkwatch.Target{ID: api, URL: api})
	if r.Status != linkwatch.StatusSkipped || r.Cause != linkwatch.CauseRateLimited || !strings.Contains(r.Summary, "api.test:") || !strings.Contains(r.Summary, " asked to be left alone until 12:01:00 UTC") {
		t.Errorf("direct check of the throttled host: %q %q %q", r.Status, r.Cause, r.Summary)
	}
	// The chain's first hop is made; the hop to the throttled host is not,
	// so the check as a whole is not made either.
	r = c.Check(context.Background(), linkwatch.Target{ID: short, URL: short})
	if r.Status != linkwatch.StatusSkipped || r.Cause != linkwatch.CauseRateLimited || len(r.Hops) != 1 || !r.SkippedUntil.Equal(now.Add(time.Minute)) ||
		!strings.Contains(r.Summary, "the redirects lead to "+api+", and "+strings.TrimPrefix(strings.TrimSuffix(api, "/x"), "http://")+" asked to be left alone") {
		t.Errorf("chain through the throttled host: %q %q %q, hops %+v", r.Status, r.Cause, r.Summary, r.Hops)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("throttled host hit %d times, want 1", n)
	}
}

// hangingResolver never answers for hang.test until the test ends.
type hangingResolver struct {
	fakeResolver
	done <-chan struct{}
}

func (r hangingResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if host == "hang.test" {
		<-r.done
		return nil, &net.DNSError{Err: "server misbehaving", Name: host}
	}
	return r.fakeResolver.LookupIPAddr(ctx, host)
}

func TestDNSTimeoutIsDNS(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	c := newTestChecker(t, Options{Timeout: 200 * time.Millisecond, Resolver: hangingResolver{done: done}})
	r := c.Check(context.Background(), linkwatch.Target{ID: "x", URL: "http://hang.test/"})
	if r.Cause != linkwatch.CauseDNS || !strings.Contains(r.Summary, "DNS lookup for hang.test: timed out") {
		t.Fatalf("cause %q summary %q (err %s), want dns", r.Cause, r.Summary, r.Error)
	}
}
