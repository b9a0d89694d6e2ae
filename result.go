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
// measured with net/http/httptrace like blackbox_exporter. In JSON they
// are the hop's milliseconds (Hop's JSON, result_json.go).
type Phases struct {
	DNS       time.Duration
	Connect   time.Duration
	TLS       time.Duration
	FirstByte time.Duration // request written to first response byte
	Transfer  time.Duration // first byte to body read (capped)
}

// Hop is one request in a redirect chain.
type Hop struct {
	URL        string
	StatusCode int
	Location   string
	// NewConn is set when the hop's request opened its own connection, so
	// its DNS, connect and TLS phases were measured; a reused connection
	// has none.
	NewConn bool
	// Resumed is set when the hop's new connection resumed the TLS
	// session of an earlier check (between fresh checks, for a host that
	// keeps no connection): a shorter TLS phase, and a certificate
	// verified by that earlier check, not this one.
	Resumed bool
	Phases  Phases
}

// Result is the outcome of one check of one target. Its JSON, the one
// every API shows and storage keeps, has its durations in milliseconds,
// named _ms (result_json.go).
type Result struct {
	TargetID string
	Series   string // see Target.Series
	Kind     TargetKind
	URL      string
	Start    time.Time
	Latency  time.Duration // start to end, across every hop

	Status     Status
	StatusCode int // of the last response
	Cause      Cause
	Summary    string // one line for humans: "DNS lookup for shop.example: no such host"
	Error      string // the underlying error text, if any

	// Fresh is set when the check reached the destination as a new visitor
	// does: every connection it used was opened by this check (DNS
	// resolved, TCP connected, a full TLS handshake verified), none kept
	// from an earlier check and none resuming an earlier check's TLS
	// session. See Options.FreshEvery.
	Fresh bool

	Hops       []Hop
	FinalURL   string
	TLSExpiry  time.Time // leaf certificate of the final hop
	BytesRead  int64
	RetryAfter time.Duration // from a 429
	// SkippedUntil is, for a skipped check, when the host's back-off ends.
	SkippedUntil time.Time
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
