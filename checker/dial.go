package checker

import (
	"context"
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
		dialer: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: guard.Safe},
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
			return nil, &dnsError{host: host, err: fmt.Errorf("no addresses")}
		}
	}
	var lastErr error
	for _, ip := range ips {
		if d.guard.SafeAddr(ip) != nil {
			lastErr = &blockedError{host: host, ip: ip}
			continue
		}
		conn, err := d.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// GuardedDialContext returns a dial function with the prober's SSRF guard,
// for the other requests linkwatch makes to user-supplied URLs (webhooks).
func GuardedDialContext(allow []netip.Prefix, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return newGuardedDialer(net.DefaultResolver, allow, timeout).DialContext
}
