package middleware

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP names the client of a request: the connection's address, or,
// when that address is a trusted reverse proxy, the nearest address in
// X-Forwarded-For that is not one. Forwarded headers from anyone else are
// ignored: any client can set them.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	isTrusted := func(s string) bool {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		for _, p := range trusted {
			if p.Contains(ip.Unmap()) {
				return true
			}
		}
		return false
	}
	if len(trusted) == 0 || !isTrusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if !isTrusted(hop) {
			if ip, err := netip.ParseAddr(hop); err == nil {
				return ip.String()
			}
			return host // garbage in the header: fall back to the proxy
		}
	}
	return host
}
