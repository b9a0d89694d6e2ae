package hub

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bounds of a clicks query.
const (
	defaultClickSpan = 7 * 24 * time.Hour
	maxHourSpan      = 31 * 24 * time.Hour  // 744 hours a link
	maxDaySpan       = 366 * 24 * time.Hour // a year of days
)

// ClicksAPI answers GET /api/admin/clicks: clicks per link by hour or day,
// with the clicks sent to a fallback counted apart, as JSON, or as CSV for
// Accept: text/csv. It is mounted behind the admin token.
type ClicksAPI struct {
	store ClickReader
	log   *slog.Logger
	now   func() time.Time
}

// NewClicksAPI returns the clicks API over store.
func NewClicksAPI(store ClickReader, log *slog.Logger) *ClicksAPI {
	return &ClicksAPI{store: store, log: log, now: time.Now}
}

// QueryError is a bad query parameter, named.
type QueryError struct {
	Field string
	Msg   string
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Msg }

// ParseClickQuery reads page, link, from, to and by from q, relative to
// now. from and to are RFC 3339 times or YYYY-MM-DD dates (UTC); from is
// rounded down and to up to whole buckets; to defaults to now and from to
// seven days before to.
func ParseClickQuery(q url.Values, now time.Time) (ClickQuery, error) {
	var cq ClickQuery
	for key := range q {
		switch key {
		case "page", "link", "from", "to", "by":
			if len(q[key]) > 1 {
				return cq, &QueryError{key, "must be given once"}
			}
		default:
			name := clipQuery(key)
			if name == "" {
				name = "(empty name)"
			}
			return cq, &QueryError{name, "unknown parameter (known: page, link, from, to, by)"}
		}
	}
	step := time.Hour
	switch by := q.Get("by"); by {
	case "hour":
	case "", "day":
		cq.ByDay, step = true, 24*time.Hour
	default:
		return cq, &QueryError{"by", fmt.Sprintf("must be hour or day, not %q", clipQuery(by))}
	}
	cq.Page, cq.Link = q.Get("page"), q.Get("link")
	if cq.Page != "" {
		if err := ValidateSlug(cq.Page); err != nil {
			return cq, &QueryError{"page", err.Error()}
		}
	}
	if cq.Link != "" {
		if cq.Page == "" {
			return cq, &QueryError{"link", "needs page: a link slug is unique only within its page"}
		}
		if err := ValidateSlug(cq.Link); err != nil {
			return cq, &QueryError{"link", err.Error()}
		}
	}
	var err error
	cq.To = now.UTC()
	if s := q.Get("to"); s != "" {
		if cq.To, err = parseClickTime("to", s); err != nil {
			return cq, err
		}
	}
	cq.From = cq.To.Add(-defaultClickSpan)
	if s := q.Get("from"); s != "" {
		if cq.From, err = parseClickTime("from", s); err != nil {
			return cq, err
		}
	}
	cq.From = cq.From.Truncate(step)
	if t := cq.To.Truncate(step); !t.Equal(cq.To) {
		cq.To = t.Add(step)
	}
	span := maxDaySpan
	if !cq.ByDay {
		span = maxHourSpan
	}
	switch {
	case !cq.To.After(cq.From):
		return cq, &QueryError{"to", "must be after from"}
	case cq.To.Sub(cq.From) > span:
		return cq, &QueryError{"from", fmt.Sprintf("the range may span at most %d days by %s", int(span/(24*time.Hour)), map[bool]string{true: "day", false: "hour"}[cq.ByDay])}
	}
	return cq, nil
}

func parseClickTime(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, &QueryError{field, fmt.Sprintf("%q is not an RFC 3339 time or a YYYY-MM-DD date", clipQuery(s))}
}

func clipQuery(s string) string {
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}

// ClicksReport is the JSON answer: every link with clicks in the range,
// each with its buckets (only those with clicks), and the totals.
type ClicksReport struct {
	By    string       `json:"by"`
	From  time.Time    `json:"from"`
	To    time.Time    `json:"to"`
	Total ClickCount   `json:"total"`
	Links []LinkClicks `json:"links"`
}

// LinkClicks is one link's clicks in a ClicksReport.
type LinkClicks struct {
	Page string `json:"page"`
	Link string `json:"link"`
	ClickCount
	Buckets []BucketClicks `json:"buckets"`
}

// BucketClicks is one hour's or day's clicks of a link.
type BucketClicks struct {
	Start time.Time `json:"start"`
	ClickCount
}

func (a *ClicksAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := ParseClickQuery(r.URL.Query(), a.now())
	var qe *QueryError
	if errors.As(err, &qe) {
		writeAPIError(w, http.StatusBadRequest, qe.Field, qe.Error())
		return
	}
	buckets, err := a.store.ClickCounts(r.Context(), q)
	if err != nil {
		a.log.ErrorContext(r.Context(), "clicks API", "err", err)
		writeAPIError(w, http.StatusInternalServerError, "", "internal error")
		return
	}
	rep := ClicksReport{By: "hour", From: q.From, To: q.To, Links: []LinkClicks{}}
	if q.ByDay {
		rep.By = "day"
	}
	for _, b := range buckets {
		if n := len(rep.Links); n == 0 || rep.Links[n-1].Page != b.Link.Page || rep.Links[n-1].Link != b.Link.Link {
			rep.Links = append(rep.Links, LinkClicks{Page: b.Link.Page, Link: b.Link.Link})
		}
		l := &rep.Links[len(rep.Links)-1]
		l.Buckets = append(l.Buckets, BucketClicks{Start: b.Start.UTC(), ClickCount: b.ClickCount})
		l.Clicks += b.Clicks
		l.Fallback += b.Fallback
		rep.Total.Clicks += b.Clicks
		rep.Total.Fallback += b.Fallback
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "text/csv") {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"page", "link", "start", "clicks", "fallback"})
		for _, l := range rep.Links {
			for _, b := range l.Buckets {
				_ = cw.Write([]string{l.Page, l.Link, b.Start.Format(time.RFC3339), strconv.FormatInt(b.Clicks, 10), strconv.FormatInt(b.Fallback, 10)})
			}
		}
		cw.Flush()
		return
	}
	h.Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

// writeAPIError answers like the rest of the admin API: {"error", "field"}.
func writeAPIError(w http.ResponseWriter, status int, field, msg string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
