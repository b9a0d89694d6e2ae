package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"

	"linkwatch/hub"
)

// ServerConfig is where and how the HTTP server listens.
type ServerConfig struct {
	Addr       string `yaml:"addr"`
	PublicURL  string `yaml:"public_url"`
	AdminToken string `yaml:"admin_token"`
	// RateLimit bounds requests per client IP on every public endpoint.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// TrustedProxies are reverse proxies (CIDRs) whose X-Forwarded-For
	// names the client; without them every visitor behind a proxy shares
	// the proxy's rate limit.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// PublicURLSet says public_url came from the file (set by the defaults
	// step, never read from it); otherwise serve derives it from the
	// address it actually listens on.
	PublicURLSet bool `yaml:"-"`
	// DrainDelay is how long a replica told to stop keeps serving while
	// /readyz already fails, so load balancers stop sending it visitors
	// before it closes its listener (default 5s; 0: none).
	DrainDelay *Duration `yaml:"drain_delay"`
}

// RateLimitConfig is a token bucket per client: an IPv4 address, or an
// IPv6 network.
type RateLimitConfig struct {
	PerSecond float64 `yaml:"per_second"` // sustained requests a second (default 20)
	Burst     int     `yaml:"burst"`      // requests at once (default 60)
	// IPv6Prefix is the length of the IPv6 network that is one client
	// (default 64: a subscriber gets a /64 at least, and may send from any
	// of its addresses). 128 limits each IPv6 address on its own.
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// minAdminTokenLen keeps a guessable token from guarding the admin API.
const minAdminTokenLen = 16

func (s *ServerConfig) validate(cerr *Error) {
	_, _, addrErr := net.SplitHostPort(s.Addr)
	if addrErr != nil {
		cerr.add("server.addr", "must be host:port or :port (%v)", unwrapAddrErr(addrErr))
	}
	if s.PublicURL == "" && addrErr != nil {
		// Derived from server.addr, whose error is already reported.
	} else if err := hub.ValidateURL(s.PublicURL); err != nil {
		cerr.add("server.public_url", "%v", err)
	} else if u, _ := url.Parse(s.PublicURL); u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		cerr.add("server.public_url", "must be a bare origin such as https://links.example.com (no path, query or fragment)")
	}
	if rl := s.RateLimit; rl.PerSecond < 0 || rl.PerSecond > 1e6 {
		cerr.add("server.rate_limit.per_second", "must be between 0 and 1000000")
	}
	if rl := s.RateLimit; rl.Burst < 0 || rl.Burst > 1e6 {
		cerr.add("server.rate_limit.burst", "must be between 0 and 1000000")
	}
	if p := s.RateLimit.IPv6Prefix; p < 32 || p > 128 {
		cerr.add("server.rate_limit.ipv6_prefix", "must be between 32 and 128")
	}
	if d := *s.DrainDelay; d < 0 || d > Duration(5*time.Minute) {
		cerr.add("server.drain_delay", "must be between 0 and 5m")
	}
	for i, p := range s.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			cerr.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not a CIDR such as 10.0.0.0/8", p)
		}
	}
	// A token that cannot travel in "Authorization: Bearer <token>" could
	// never authenticate: HTTP trims spaces around a header value and
	// allows no newline in it (a secret file's trailing newline, a token of
	// spaces). Checked before the length, which spaces would satisfy.
	switch t := s.AdminToken; {
	case t == "":
	case strings.TrimSpace(t) != t || strings.ContainsFunc(t, unicode.IsControl):
		cerr.add("server.admin_token", "must not start or end with spaces, nor contain newlines or control characters (a trailing newline from a secret file?)")
	case len(t) < minAdminTokenLen:
		cerr.add("server.admin_token", "must be at least %d characters", minAdminTokenLen)
	}
}

// TrustedPrefixes returns server.trusted_proxies as prefixes, for a config
// that passed validation (an entry that is not a CIDR is left out).
func (s *ServerConfig) TrustedPrefixes() []netip.Prefix {
	return parsePrefixes(s.TrustedProxies)
}

// parsePrefixes parses validated CIDRs, masked: 10.1.2.3/8 is 10.0.0.0/8.
func parsePrefixes(cidrs []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range cidrs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func unwrapAddrErr(err error) error {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return errors.New(ae.Err)
	}
	return err
}
