package checker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"time"
)

// URLGuard is the SSRF guard for a URL someone hands linkwatch to call
// later (a webhook subscription): Check refuses it when it is made, and
// Dial refuses it again at every connection, should its DNS answer change
// to a private address in between. Both use the one guard the prober
// uses, with its allow list (probe.allow_private).
type URLGuard struct {
	d *guardedDialer
}

// NewURLGuard returns a guard resolving with resolver (nil:
// net.DefaultResolver) and allowing the prefixes in allow.
func NewURLGuard(resolver Resolver, allow []netip.Prefix, timeout time.Duration) *URLGuard {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return &URLGuard{d: newGuardedDialer(resolver, allow, timeout)}
}

// Check resolves the URL's host and refuses it if any of its addresses is
// private, loopback, link-local or otherwise reserved and not allowed, or
// if it does not resolve. The error says why, never more than the host
// (a failed lookup is a *ResolveError, without the resolver's address).
func (g *URLGuard) Check(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("is not a URL with a host")
	}
	host := u.Hostname()
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip.Unmap()}
	} else {
		addrs, err := g.d.resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return &ResolveError{Host: host, Err: err}
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				ips = append(ips, ip.Unmap())
			}
		}
		if len(ips) == 0 {
			return fmt.Errorf("host %s has no addresses", host)
		}
	}
	for _, ip := range ips {
		if g.d.guard.SafeAddr(ip) != nil {
			return &blockedError{host: host, ip: ip}
		}
	}
	return nil
}

// Dial connects through the guard: every address is checked again when
// connected to.
func (g *URLGuard) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return g.d.outboundDial(ctx, network, addr)
}
