package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"linkwatch"
	"linkwatch/hub"
)

// ProbeConfig is how destinations and the hub's own redirects are checked.
type ProbeConfig struct {
	Interval     Duration `yaml:"interval"`      // default 10s
	Timeout      Duration `yaml:"timeout"`       // per check, below the interval (default 8s)
	UserAgent    string   `yaml:"user_agent"`    // default: an honest browser-like UA naming linkwatch
	AllowPrivate []string `yaml:"allow_private"` // CIDRs the prober may reach despite the SSRF guard
	Workers      int      `yaml:"workers"`       // checks in flight at most (default 512)
	PerHost      int      `yaml:"per_host"`      // requests in flight per host at most (default 2)
	HubSlow      Duration `yaml:"hub_slow"`      // a self-check slower than this is hub_slow (default 1s)
	SelfCheck    *bool    `yaml:"self_check"`    // check the hub's own redirects (default true)
	HeadFirst    bool     `yaml:"head_first"`    // try HEAD before GET (falls back on 405/403/501)
	// FreshEvery is how often, at least, a destination is checked as a new
	// visitor reaches it: DNS, a new connection, a verified TLS handshake
	// (default 60s; 0: every check). Pointers, here and below, because 0 is
	// a value someone may write, not "unset".
	FreshEvery *Duration `yaml:"fresh_every"`
	// TLSWarn: a certificate expiring within it is tls_expiring (default 14 days).
	TLSWarn *Duration `yaml:"tls_warn"`
	// KeepAliveHosts bounds the hosts that keep connections between checks
	// (default 8192): each costs a descriptor and some 70 KiB; past it,
	// a host's checks between fresh ones resume its TLS session over a new
	// connection.
	KeepAliveHosts int `yaml:"keep_alive_hosts"`
	// FailureThreshold consecutive failures open an incident (default 2:
	// detection within about 20 s at a 10 s interval).
	FailureThreshold int `yaml:"failure_threshold"`
	// SuccessThreshold consecutive successes resolve it (default 2).
	SuccessThreshold int `yaml:"success_threshold"`
	// Canary is a URL that should always answer; when it fails along with
	// most destinations, the prober's own network is down (prober_offline).
	Canary string `yaml:"canary"`
	// Region names where this replica probes from (e.g. eu-west), for
	// replicas in several regions: an incident opens only when a majority
	// of the regions with a healthy canary see a destination fail. Empty is
	// the one unnamed region.
	Region string `yaml:"region"`
}

// minInterval is the shortest probe.interval: a check a second per
// destination is already more than any destination needs.
const minInterval = time.Second

// TestMinIntervalEnv names the environment variable with which
// linkwatch's own tests lower the shortest probe.interval, to no less than
// testMinIntervalFloor: a serve or end-to-end test then waits a few
// hundred milliseconds for what takes a deployment a few intervals.
// Unset, as it is in every deployment, the limit is minInterval.
const (
	TestMinIntervalEnv   = "LINKWATCH_TEST_MIN_INTERVAL"
	testMinIntervalFloor = 100 * time.Millisecond
)

// intervalLimit is the shortest probe.interval the environment allows:
// minInterval, or what TestMinIntervalEnv says.
func intervalLimit(getenv func(string) string, cerr *Error) time.Duration {
	v := getenv(TestMinIntervalEnv)
	if v == "" {
		return minInterval
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < testMinIntervalFloor || d > minInterval {
		cerr.add(TestMinIntervalEnv, "must be a duration from %s to %s (it is for linkwatch's tests only)", testMinIntervalFloor, minInterval)
		return minInterval
	}
	return d
}

func (p *ProbeConfig) validate(cerr *Error, minInterval time.Duration) {
	if p.Interval < Duration(minInterval) {
		cerr.add("probe.interval", "must be at least %s", minInterval)
	}
	if p.Timeout <= 0 || p.Timeout >= p.Interval {
		cerr.add("probe.timeout", "must be positive and below probe.interval (%s), so checks never stack", time.Duration(p.Interval))
	}
	if p.HubSlow <= 0 {
		cerr.add("probe.hub_slow", "must be positive")
	}
	if f := *p.FreshEvery; f < 0 || f > Duration(time.Hour) {
		cerr.add("probe.fresh_every", "must be between 0 (every check fresh) and 1h")
	}
	if p.KeepAliveHosts < 1 || p.KeepAliveHosts > 1000000 {
		cerr.add("probe.keep_alive_hosts", "must be between 1 and 1000000")
	}
	if w := *p.TLSWarn; w < Duration(time.Hour) || w > Duration(365*24*time.Hour) {
		cerr.add("probe.tls_warn", "must be between 1h and 8760h (365 days)")
	}
	if p.Workers < 1 || p.Workers > 100000 {
		cerr.add("probe.workers", "must be between 1 and 100000")
	}
	if p.PerHost < 1 || p.PerHost > 1000 {
		cerr.add("probe.per_host", "must be between 1 and 1000")
	}
	if p.FailureThreshold < 1 || p.FailureThreshold > 100 {
		cerr.add("probe.failure_threshold", "must be between 1 and 100")
	}
	if p.SuccessThreshold < 1 || p.SuccessThreshold > 100 {
		cerr.add("probe.success_threshold", "must be between 1 and 100")
	}
	if p.Canary != "" {
		if err := hub.ValidateURL(p.Canary); err != nil {
			cerr.add("probe.canary", "%v", err)
		}
	}
	if p.Region != "" && !linkwatch.ValidRegion(p.Region) {
		cerr.add("probe.region", "%q must be 1 to 32 lowercase letters, digits and hyphens, such as eu-west", p.Region)
	}
	if strings.ContainsFunc(p.UserAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		cerr.add("probe.user_agent", "must not contain control characters")
	}
	for i, s := range p.AllowPrivate {
		if _, err := netip.ParsePrefix(s); err != nil {
			cerr.add(fmt.Sprintf("probe.allow_private[%d]", i), "%q is not a CIDR such as 10.0.0.0/8 or 127.0.0.1/32", s)
		}
	}
}

// AllowPrefixes returns probe.allow_private as prefixes, for a config that
// passed validation (an entry that is not a CIDR is left out).
func (p *ProbeConfig) AllowPrefixes() []netip.Prefix {
	return parsePrefixes(p.AllowPrivate)
}
