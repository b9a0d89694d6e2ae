package checker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"code.dny.dev/ssrf"
)

// Resolver looks up a host's addresses. net.DefaultResolver is one; tests
// use fakes so no lookup leaves the machine.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// dnsError is a failed lookup, reported as cause dns.
type dnsError struct {
	host string
	err  error
}

func (e *dnsError) Error() string { return fmt.Sprintf("DNS lookup for %s: %v", e.host, e.err) }
func (e *dnsError) Unwrap() error { return e.err }

// errNoAddresses is a lookup that answered with no address.
var errNoAddresses = errors.New("no addresses")

// ResolveError is a host that did not resolve, as a client or an operator
// is told it (an admin API answer, a delivery's error): the host and why,
// never the resolver's own address, which Go's resolver puts in its errors
// ("lookup x on 10.0.0.53:53: ..."). Err is the resolver's error whole.
// The prober's evidence keeps that text instead (dnsError).
type ResolveError struct {
	Host string
	Err  error
}

func (e *ResolveError) Error() string {
	reason := lookupReason(e.Err)
	switch {
	case reason != "":
	case errors.Is(e.Err, errNoAddresses):
		reason = "it has no addresses"
	default:
		reason = "the resolver did not answer"
	}
	return "cannot resolve host " + e.Host + ": " + reason
}

func (e *ResolveError) Unwrap() error { return e.Err }

// lookupReason says why a lookup failed in words that name no address, or
// "" when Go's resolver's error cannot be told without one.
func lookupReason(err error) string {
	var de *net.DNSError
	switch {
	case !errors.As(err, &de):
		return ""
	case de.IsNotFound:
		return "no such host"
	case de.IsTimeout:
		return "timed out"
	case publicDNSReasons[de.Err]:
		return de.Err
	}
	return ""
}

// publicDNSReasons are net.DNSError texts that name no address, safe for a
// public summary.
var publicDNSReasons = map[string]bool{
	"server misbehaving": true, "no such host": true, "i/o timeout": true,
	"no answer from DNS server": true, "cannot unmarshal DNS message": true,
}

// blockedError is a destination the SSRF guard refused, reported as cause
// blocked.
type blockedError struct {
	host string
	ip   netip.Addr
}

func (e *blockedError) Error() string {
	if e.host == e.ip.String() {
		return fmt.Sprintf("%s is a private or reserved address; allow it with probe.allow_private", e.ip)
	}
	return fmt.Sprintf("%s resolves to %s, a private or reserved address; allow it with probe.allow_private", e.host, e.ip)
}

// guardedDialer resolves names itself and refuses private, loopback,
// link-local (cloud metadata), CGNAT and other special addresses unless
// allowed. The check is on the resolved IP at dial time, so a DNS answer
// that changes between checks (rebinding) cannot slip through, and it runs
// on every connection, so every redirect hop is covered.
type guardedDialer struct {
	resolver Resolver
	guard    *ssrf.Guardian
	dialer   net.Dialer
	// fallbackDelay is how long one address gets before the next one is
	// tried alongside it (RFC 8305 recommends 250 ms; net.Dialer uses
	// 300 ms).
	fallbackDelay time.Duration
}

func newGuardedDialer(resolver Resolver, allow []netip.Prefix, timeout time.Duration) *guardedDialer {
	var v4, v6 []netip.Prefix
	for _, p := range allow {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	guard := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	return &guardedDialer{
		resolver: resolver,
		guard:    guard,
		// Control re-checks the address actually connected to: defence in
		// depth should anything bypass the resolution below.
		dialer:        net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: guard.Safe},
		fallbackDelay: 300 * time.Millisecond,
	}
}

func (d *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip.Unmap()}
	} else {
		tr := traceFrom(ctx)
		tr.mark(&tr.dnsStart)
		addrs, err := d.resolver.LookupIPAddr(ctx, host)
		tr.mark(&tr.dnsDone)
		if err != nil {
			return nil, &dnsError{host: host, err: err}
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				ips = append(ips, ip.Unmap())
			}
		}
		if len(ips) == 0 {
			return nil, &dnsError{host: host, err: errNoAddresses}
		}
	}
	// The guard judges every address; only the safe ones are dialed.
	var safe []netip.AddrPort
	var blocked error
	for _, ip := range ips {
		if d.guard.SafeAddr(ip) != nil {
			if blocked == nil {
				blocked = &blockedError{host: host, ip: ip}
			}
			continue
		}
		safe = append(safe, netip.AddrPortFrom(ip, uint16(port)))
	}
	if len(safe) == 0 {
		return nil, blocked
	}
	return d.race(ctx, network, interleave(safe))
}

// race dials addrs the way browsers do (Happy Eyeballs, RFC 8305): the next
// address starts when the previous attempt fails or after fallbackDelay,
// whichever comes first, so a dead address costs a visitor a fraction of a
// second, not the whole timeout. The first connection wins; the others are
// cancelled, and closed should they connect anyway. When every attempt
// fails, the first address's error is returned, whatever order the
// failures came in.
func (d *guardedDialer) race(ctx context.Context, network string, addrs []netip.AddrPort) (net.Conn, error) {
	if len(addrs) == 1 {
		return d.dialer.DialContext(ctx, network, addrs[0].String())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type attempt struct {
		i    int
		conn net.Conn
		err  error
	}
	done := make(chan attempt, len(addrs)) // buffered: losers never block
	next, pending := 0, 0
	start := func() {
		i := next
		next++
		pending++
		go func() {
			conn, err := d.dialer.DialContext(ctx, network, addrs[i].String())
			done <- attempt{i, conn, err}
		}()
	}
	start()
	fallback := time.NewTimer(d.fallbackDelay)
	defer fallback.Stop()
	errs := make([]error, len(addrs))
	for pending > 0 {
		var fire <-chan time.Time
		if next < len(addrs) {
			fire = fallback.C
		}
		select {
		case a := <-done:
			pending--
			if a.err == nil {
				cancel()
				go func(n int) {
					for range n {
						if late := <-done; late.conn != nil {
							late.conn.Close()
						}
					}
				}(pending)
				return a.conn, nil
			}
			errs[a.i] = a.err
			if next < len(addrs) {
				start()
				fallback.Reset(d.fallbackDelay)
			}
		case <-fire:
			start()
			fallback.Reset(d.fallbackDelay)
		}
	}
	return nil, errs[0]
}

// interleave orders addresses by family in turns, starting with the family
// of the first (RFC 8305 section 4), so a broken family costs one fallback
// delay, not one per address.
func interleave(addrs []netip.AddrPort) []netip.AddrPort {
	var first, second []netip.AddrPort
	for _, a := range addrs {
		if a.Addr().Is4() == addrs[0].Addr().Is4() {
			first = append(first, a)
		} else {
			second = append(second, a)
		}
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for i := 0; i < len(first) || i < len(second); i++ {
		if i < len(first) {
			out = append(out, first[i])
		}
		if i < len(second) {
			out = append(out, second[i])
		}
	}
	return out
}

// GuardedDialContext returns a dial function with the prober's SSRF guard,
// for the other requests linkwatch makes to user-supplied URLs (webhooks).
// A name that does not resolve is a *ResolveError: the error reaches
// delivery logs and API answers.
func GuardedDialContext(allow []netip.Prefix, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return newGuardedDialer(net.DefaultResolver, allow, timeout).outboundDial
}

// outboundDial is DialContext for requests whose errors are shown to
// clients and operators: a failed lookup is a *ResolveError.
func (d *guardedDialer) outboundDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, network, addr)
	var de *dnsError
	if errors.As(err, &de) {
		return nil, &ResolveError{Host: de.host, Err: de.err}
	}
	return c, err
}
