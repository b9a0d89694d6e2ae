package linkwatch

import "time"

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
	Kind     TargetKind    `json:"kind"`
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
