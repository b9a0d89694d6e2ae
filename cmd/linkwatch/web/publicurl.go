package web

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ServedURLs returns the public URL and the base self-checks use, given
// public_url (set says it came from the config) and the address served.
// Without public_url both are the served address (a wildcard host named
// localhost). With one that names this machine on another port, visitors
// may well reach us that way (a port mapping), but the prober cannot:
// self-checks go to the served address instead, so they raise no false hub
// incident, and mismatch says why, to be logged once.
func ServedURLs(publicURL string, set bool, served net.Addr) (public, selfCheck, mismatch string) {
	host, port, err := net.SplitHostPort(served.String())
	if err != nil {
		return publicURL, publicURL, ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "localhost"
	}
	servedURL := "http://" + net.JoinHostPort(host, port)
	if !set {
		return servedURL, servedURL, ""
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return publicURL, publicURL, ""
	}
	pubPort := u.Port()
	if pubPort == "" {
		pubPort = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !isThisMachine(u.Hostname(), host) || pubPort == port {
		return publicURL, publicURL, ""
	}
	return publicURL, servedURL, "server.public_url names this machine on another port than the one served: links use public_url, self-checks go to the served address"
}

// isThisMachine reports whether host (from public_url) names this machine
// without a DNS lookup: localhost, a loopback or unspecified address, or
// the address served.
func isThisMachine(host, served string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") || host == served {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || ip.IsUnspecified())
}
