package linkwatch

import (
	"encoding/json"
	"math"
	"time"
)

// Millis is d in milliseconds, the unit of every duration linkwatch shows
// (JSON fields named _ms, metrics).
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fromMillis is Millis undone, to the nanosecond.
func fromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// resultJSON is a Result as every API shows it (the admin API's evidence,
// a webhook's last_result, an alert in the delivery log) and storage keeps
// it: durations in milliseconds, named _ms. The order of its fields is
// the webhook payload's (alerting/webhook.schema.json).
type resultJSON struct {
	TargetID     string     `json:"target_id"`
	Series       string     `json:"series,omitempty"`
	Kind         TargetKind `json:"kind"`
	URL          string     `json:"url"`
	Start        time.Time  `json:"start"` // in UTC
	LatencyMS    float64    `json:"latency_ms"`
	Status       Status     `json:"status"`
	StatusCode   int        `json:"status_code,omitempty"`
	Cause        Cause      `json:"cause,omitempty"`
	Summary      string     `json:"summary,omitempty"`
	Error        string     `json:"error,omitempty"`
	Hops         []Hop      `json:"hops,omitempty"`
	FinalURL     string     `json:"final_url,omitempty"`
	TLSExpiry    time.Time  `json:"tls_expiry,omitzero"`
	BytesRead    int64      `json:"bytes_read"`
	RetryAfterMS float64    `json:"retry_after_ms,omitempty"`
	Fresh        bool       `json:"fresh"`
	SkippedUntil time.Time  `json:"skipped_until,omitzero"`
}

// MarshalJSON writes r in the one JSON form (resultJSON).
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{TargetID: r.TargetID, Series: r.Series, Kind: r.Kind, URL: r.URL, Start: r.Start.UTC(),
		LatencyMS: Millis(r.Latency), Status: r.Status, StatusCode: r.StatusCode, Cause: r.Cause, Summary: r.Summary, Error: r.Error,
		Hops: r.Hops, FinalURL: r.FinalURL, TLSExpiry: r.TLSExpiry, BytesRead: r.BytesRead, RetryAfterMS: Millis(r.RetryAfter),
		Fresh: r.Fresh, SkippedUntil: r.SkippedUntil})
}

// UnmarshalJSON reads the JSON form, and the one results were stored in
// before it (durations in nanoseconds under unsuffixed names: "latency",
// "retry_after"), which the database still holds.
func (r *Result) UnmarshalJSON(b []byte) error {
	var in struct {
		resultJSON
		LatencyMS    *float64       `json:"latency_ms"`
		RetryAfterMS *float64       `json:"retry_after_ms"`
		Latency      *time.Duration `json:"latency"`     // before _ms
		RetryAfter   *time.Duration `json:"retry_after"` // before _ms
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	j := in.resultJSON
	*r = Result{TargetID: j.TargetID, Series: j.Series, Kind: j.Kind, URL: j.URL, Start: j.Start,
		Latency: either(in.LatencyMS, in.Latency), Status: j.Status, StatusCode: j.StatusCode, Cause: j.Cause, Summary: j.Summary,
		Error: j.Error, Hops: j.Hops, FinalURL: j.FinalURL, TLSExpiry: j.TLSExpiry, BytesRead: j.BytesRead,
		RetryAfter: either(in.RetryAfterMS, in.RetryAfter), Fresh: j.Fresh, SkippedUntil: j.SkippedUntil}
	return nil
}

// either is the duration given in milliseconds, else in nanoseconds (the
// older form), else zero.
func either(ms *float64, ns *time.Duration) time.Duration {
	switch {
	case ms != nil:
		return fromMillis(*ms)
	case ns != nil:
		return *ns
	}
	return 0
}

// hopJSON is a Hop in JSON: its phases flat, in milliseconds.
type hopJSON struct {
	URL         string  `json:"url"`
	StatusCode  int     `json:"status_code,omitempty"`
	Location    string  `json:"location,omitempty"`
	DNSMS       float64 `json:"dns_ms"`
	ConnectMS   float64 `json:"connect_ms"`
	TLSMS       float64 `json:"tls_ms"`
	FirstByteMS float64 `json:"first_byte_ms"`
	TransferMS  float64 `json:"transfer_ms"`
	NewConn     bool    `json:"new_conn"`
	Resumed     bool    `json:"resumed,omitempty"`
}

// MarshalJSON writes h in the one JSON form (hopJSON).
func (h Hop) MarshalJSON() ([]byte, error) {
	p := h.Phases
	return json.Marshal(hopJSON{URL: h.URL, StatusCode: h.StatusCode, Location: h.Location,
		DNSMS: Millis(p.DNS), ConnectMS: Millis(p.Connect), TLSMS: Millis(p.TLS), FirstByteMS: Millis(p.FirstByte), TransferMS: Millis(p.Transfer),
		NewConn: h.NewConn, Resumed: h.Resumed})
}

// UnmarshalJSON reads the JSON form, and the older one: the phases in
// nanoseconds under "phases" ({"dns", "connect", "tls", "first_byte",
// "transfer"}).
func (h *Hop) UnmarshalJSON(b []byte) error {
	var in struct {
		hopJSON
		Phases *struct {
			DNS       time.Duration `json:"dns"`
			Connect   time.Duration `json:"connect"`
			TLS       time.Duration `json:"tls"`
			FirstByte time.Duration `json:"first_byte"`
			Transfer  time.Duration `json:"transfer"`
		} `json:"phases"` // before _ms
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	j := in.hopJSON
	*h = Hop{URL: j.URL, StatusCode: j.StatusCode, Location: j.Location, NewConn: j.NewConn, Resumed: j.Resumed}
	if p := in.Phases; p != nil {
		h.Phases = Phases{DNS: p.DNS, Connect: p.Connect, TLS: p.TLS, FirstByte: p.FirstByte, Transfer: p.Transfer}
	} else {
		h.Phases = Phases{DNS: fromMillis(j.DNSMS), Connect: fromMillis(j.ConnectMS), TLS: fromMillis(j.TLSMS),
			FirstByte: fromMillis(j.FirstByteMS), Transfer: fromMillis(j.TransferMS)}
	}
	return nil
}
