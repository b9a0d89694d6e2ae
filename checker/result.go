// Package checker checks one target at a time and says why it failed: every
// check returns a Result, and a down destination is a Result with a Cause,
// never a Go error. It also schedules the checks.
package checker

import "time"

// Kind says what a target is, which decides how it is checked.
type Kind string

const (
	// KindDestination is a link's destination URL, followed through redirects.
	KindDestination Kind = "destination"
	// KindSelfCheck is the hub's own /{page}/{link}, requested through the
	// public URL without following it: it must answer 302 to the destination.
	KindSelfCheck Kind = "self_check"
	// KindCanary is a well-known URL that should always be up; when it fails
	// along with everything else, the prober's own network is at fault.
	KindCanary Kind = "canary"
)

// Target is one thing to check.
type Target struct {
	// ID is stable across restarts and config reloads: the URL for a
	// destination, "self:/{page}/{link}" for a self-check.
	ID   string
	Kind Kind
	URL  string

	Expect Expect

	// WantLocation is, for a self-check, the Location the hub must answer.
	WantLocation string
	// AltLocation is, for a self-check, the other Location the hub may
	// answer: the link's fallback, where visitors go while its destination
	// is down (Options.Diverted says when). That is the hub working, not a
	// wrong redirect; at any other time it is.
	AltLocation string

	// Series, when set, is the ID the target's results are aggregated under
	// in the rollups, so many targets can share one history (the self-checks
	// of one page); empty means the target's own ID.
	Series string
}

// Expect is what a healthy answer looks like beyond "2xx".
type Expect struct {
	// Status lists the accepted final status codes; empty means any 2xx.
	Status []int
	// BodyContains is text the body must contain (catches soft 404s: a 200
	// page that says "product not found").
	BodyContains string
	// FinalHost is the host the redirect chain must end on; a chain that
	// ends elsewhere is redirect_changed.
	FinalHost string
}

// Status is the health a Result shows.
type Status string

const (
	StatusUp       Status = "up"
	StatusDegraded Status = "degraded" // rate limited, slow or a certificate about to expire: working, not well
	StatusDown     Status = "down"
	// StatusSkipped is a check not made: a host on its way asked, with a
	// 429's Retry-After, to be left alone until SkippedUntil. It says
	// nothing of the target's health, neither up nor down; its Cause is
	// why it was not made.
	StatusSkipped Status = "skipped"
)

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

// degrades reports whether a result with this cause still serves a visitor,
// only not well: it is degraded (impact minor), not down, so it never pages
// on its own.
func (c Cause) degrades() bool {
	switch c {
	case CauseRateLimited, CauseTLSExpiring, CauseHubSlow:
		return true
	}
	return false
}

// Phases is the time spent in each part of one request (one redirect hop),
// measured with net/http/httptrace like blackbox_exporter.
type Phases struct {
	DNS       time.Duration `json:"dns"`
	Connect   time.Duration `json:"connect"`
	TLS       time.Duration `json:"tls"`
	FirstByte time.Duration `json:"first_byte"` // request written to first response byte
	Transfer  time.Duration `json:"transfer"`   // first byte to body read (capped)
}

// Hop is one request in a redirect chain.
type Hop struct {
	URL        string `json:"url"`
	StatusCode int    `json:"status_code,omitempty"`
	Location   string `json:"location,omitempty"`
	// NewConn is set when the hop's request opened its own connection, so
	// its DNS, connect and TLS phases were measured; a reused connection
	// has none.
	NewConn bool `json:"new_conn"`
	// Resumed is set when the hop's new connection resumed the TLS
	// session of an earlier check (between fresh checks, for a host that
	// keeps no connection): a shorter TLS phase, and a certificate
	// verified by that earlier check, not this one.
	Resumed bool   `json:"resumed,omitempty"`
	Phases  Phases `json:"phases"`
}

// Result is the outcome of one check of one target.
type Result struct {
	TargetID string        `json:"target_id"`
	Series   string        `json:"series,omitempty"` // see Target.Series
	Kind     Kind          `json:"kind"`
	URL      string        `json:"url"`
	Start    time.Time     `json:"start"`
	Latency  time.Duration `json:"latency"` // start to end, across every hop

	Status     Status `json:"status"`
	StatusCode int    `json:"status_code,omitempty"` // of the last response
	Cause      Cause  `json:"cause,omitempty"`
	Summary    string `json:"summary,omitempty"` // one line for humans: "DNS lookup for shop.example: no such host"
	Error      string `json:"error,omitempty"`   // the underlying error text, if any

	// Fresh is set when the check reached the destination as a new visitor
	// does: every connection it used was opened by this check (DNS
	// resolved, TCP connected, a full TLS handshake verified), none kept
	// from an earlier check and none resuming an earlier check's TLS
	// session. See Options.FreshEvery.
	Fresh bool `json:"fresh"`

	Hops       []Hop         `json:"hops,omitempty"`
	FinalURL   string        `json:"final_url,omitempty"`
	TLSExpiry  time.Time     `json:"tls_expiry,omitzero"` // leaf certificate of the final hop
	BytesRead  int64         `json:"bytes_read"`
	RetryAfter time.Duration `json:"retry_after,omitempty"` // from a 429
	// SkippedUntil is, for a skipped check, when the host's back-off ends.
	SkippedUntil time.Time `json:"skipped_until,omitzero"`
}

// SeriesID is the ID the result is aggregated under in the rollups.
func (r Result) SeriesID() string {
	if r.Series != "" {
		return r.Series
	}
	return r.TargetID
}

// OK reports whether the result counts as a success for incident thresholds.
func (r Result) OK() bool { return r.Status == StatusUp }

// Skipped reports whether the check was not made (StatusSkipped): not an
// observation of the target, to be counted neither for nor against it.
func (r Result) Skipped() bool { return r.Status == StatusSkipped }
