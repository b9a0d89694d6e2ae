package checker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"linkwatch"
)

// staticResolver answers every name with the same addresses, in order.
type staticResolver []string

func (r staticResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, s := range r {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

// hangOn makes ip:port a listener whose accept queue is full, so a new
// connection to it hangs in SYN_SENT (Linux drops SYNs to a full queue).
func hangOn(t *testing.T, ip [4]byte, port int) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: ip, Port: port}); err != nil {
		t.Skipf("cannot bind %v:%d: %v", ip, port, err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("%d.%d.%d.%d:%d", ip[0], ip[1], ip[2], ip[3], port)
	for range 4 { // fill the queue; the first dial that hangs proves it full
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill the accept queue on this system")
}

func portOf(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

// A host with a dead address before a live one is up, as it is for a
// browser: the live address is tried after the fallback delay, not after
// the dead one's whole timeout. The dead address comes first: the unlucky
// order.
func TestDialRacesAddresses(t *testing.T) {
	t.Parallel()
	loopbacks := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	t.Run("first address hangs", func(t *testing.T) {
		t.Parallel()
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
		port := portOf(t, srv.URL)
		hangOn(t, [4]byte{127, 0, 0, 2}, port)
		// A timeout far below a sequential dial's cost (the whole timeout on
		// the first address) and far above the fallback delay.
		c := newTestChecker(t, Options{Resolver: staticResolver{"127.0.0.2", "127.0.0.1"}, AllowPrivate: loopbacks, Timeout: 2 * time.Second})
		u := named(t, srv.URL, "two.test") + "/"
		r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u})
		if r.Status != linkwatch.StatusUp {
			t.Fatalf("cause %q summary %q (err %s), want up through 127.0.0.1", r.Cause, r.Summary, r.Error)
		}
		if p := r.Hops[0].Phases; p.Connect <= 0 {
			t.Errorf("connect phase not measured: %+v", p)
		}
	})
	t.Run("first address refuses", func(t *testing.T) {
		t.Parallel()
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
		c := newTestChecker(t, Options{Resolver: staticResolver{"127.0.0.2", "127.0.0.1"}, AllowPrivate: loopbacks})
		u := named(t, srv.URL, "two.test") + "/"
		if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Status != linkwatch.StatusUp {
			t.Fatalf("cause %q summary %q, want up through 127.0.0.1", r.Cause, r.Summary)
		}
	})
	t.Run("every address refuses", func(t *testing.T) {
		t.Parallel()
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
		c := newTestChecker(t, Options{Resolver: staticResolver{"127.0.0.2", "127.0.0.3"}, AllowPrivate: loopbacks})
		u := named(t, srv.URL, "two.test") + "/"
		if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Cause != linkwatch.CauseConnectRefused {
			t.Fatalf("cause %q summary %q, want connect_refused", r.Cause, r.Summary)
		}
	})
}

// The SSRF guard judges each resolved address: a refused one is never
// dialed, an allowed one still serves, and a host with none allowed is
// blocked.
func TestDialGuardsEveryAddress(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	port := portOf(t, srv.URL)
	forbidden, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2:%d: %v", port, err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := forbidden.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { forbidden.Close() })
	u := named(t, srv.URL, "mixed.test") + "/"

	c := newTestChecker(t, Options{Resolver: staticResolver{"127.0.0.2", "127.0.0.1"}}) // allows 127.0.0.1/32 only
	if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Status != linkwatch.StatusUp {
		t.Errorf("cause %q summary %q, want up through the allowed address", r.Cause, r.Summary)
	}
	c = newTestChecker(t, Options{Resolver: staticResolver{"127.0.0.2", "10.1.2.3"}})
	if r := c.Check(context.Background(), linkwatch.Target{ID: u, URL: u}); r.Cause != linkwatch.CauseBlocked || r.Summary != "refused by the SSRF guard: mixed.test resolves to 127.0.0.2, a private or reserved address; allow it with probe.allow_private" {
		t.Errorf("cause %q summary %q, want blocked naming the first refused address", r.Cause, r.Summary)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the refused address accepted %d connections", n)
	}
}

func TestInterleave(t *testing.T) {
	ap := func(ss ...string) []netip.AddrPort {
		var out []netip.AddrPort
		for _, s := range ss {
			out = append(out, netip.AddrPortFrom(netip.MustParseAddr(s), 443))
		}
		return out
	}
	tests := []struct{ in, want []netip.AddrPort }{
		{ap("::1", "::2", "::3", "1.0.0.1"), ap("::1", "1.0.0.1", "::2", "::3")},
		{ap("1.0.0.1", "1.0.0.2", "::1", "::2"), ap("1.0.0.1", "::1", "1.0.0.2", "::2")},
		{ap("1.0.0.1", "1.0.0.2"), ap("1.0.0.1", "1.0.0.2")},
	}
	for _, tt := range tests {
		if got := interleave(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("interleave(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
