package linkwatch

import "slices"

// Cause is why a check did not come back healthy.
type Cause string

// The root-cause taxonomy (DESIGN.md). A failed Result has exactly one.
const (
	CauseNone              Cause = ""
	CauseDNS               Cause = "dns"
	CauseConnectRefused    Cause = "connect_refused"
	CauseConnectTimeout    Cause = "connect_timeout"
	CauseTLSExpired        Cause = "tls_expired"
	CauseTLSExpiring       Cause = "tls_expiring" // works today; a certificate of the chain expires within probe.tls_warn
	CauseTLSHostname       Cause = "tls_hostname"
	CauseTLSUntrusted      Cause = "tls_untrusted"
	CauseTimeout           Cause = "timeout"
	CauseHTTP4xx           Cause = "http_4xx"
	CauseHTTP5xx           Cause = "http_5xx"
	CauseRateLimited       Cause = "rate_limited"
	CauseRedirectLoop      Cause = "redirect_loop"
	CauseTooManyRedirects  Cause = "too_many_redirects"
	CauseRedirectChanged   Cause = "redirect_changed"
	CauseRedirectInvalid   Cause = "redirect_invalid" // a 3xx a browser cannot follow: no Location, an unreadable one, or not http(s)
	CauseContentMismatch   Cause = "content_mismatch"
	CauseBlocked           Cause = "blocked"
	CauseHubRedirectWrong  Cause = "hub_redirect_wrong"
	CauseHubSlow           Cause = "hub_slow"
	CauseProberOffline     Cause = "prober_offline"
	CauseConnectionFailure Cause = "connect_error" // a network error that fits none of the above (reset, unreachable)
)

// Degrades reports whether a result with this cause still serves a visitor,
// only not well: it is degraded (impact minor), not down, so it never pages
// on its own.
func (c Cause) Degrades() bool {
	switch c {
	case CauseRateLimited, CauseTLSExpiring, CauseHubSlow:
		return true
	}
	return false
}

// Causes lists every root cause a result or an incident may have (not
// CauseNone), in the order they are declared: a check fails at DNS first.
func Causes() []Cause {
	return []Cause{CauseDNS, CauseConnectRefused, CauseConnectTimeout, CauseTLSExpired, CauseTLSExpiring, CauseTLSHostname,
		CauseTLSUntrusted, CauseTimeout, CauseHTTP4xx, CauseHTTP5xx, CauseRateLimited, CauseRedirectLoop, CauseTooManyRedirects,
		CauseRedirectChanged, CauseRedirectInvalid, CauseContentMismatch, CauseBlocked, CauseHubRedirectWrong, CauseHubSlow,
		CauseProberOffline, CauseConnectionFailure}
}

// ValidCause reports whether c is one of Causes.
func ValidCause(c Cause) bool { return slices.Contains(Causes(), c) }
