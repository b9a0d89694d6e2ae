package linkwatch

import (
	"slices"
	"time"
)

// Internal reports whether incidents of kind k are about linkwatch itself
// (its prober's network, its canary) rather than the links: on-call sees
// them; the public status page, its API and its feeds do not.
func (k IncidentKind) Internal() bool { return slices.Contains(InternalKinds(), k) }

// InternalKinds are the kinds Kind.Internal reports, for a store's query.
func InternalKinds() []IncidentKind { return []IncidentKind{KindProberOffline, KindCanary} }

// Span is a stretch of time, [From, To).
type Span struct{ From, To time.Time }

// UnknownSpans returns when checks were made while the prober was offline,
// as its prober_offline incidents in list record it: those checks are
// unknown, neither up nor down. A span starts one probe interval before
// its incident (the canary's last good check came that long before its
// first failure, and any check since may have met the broken network) and
// ends when the incident resolved, or at now while it is open. Spans are
// sorted and merged, and end at now at the latest. Other kinds in list are
// ignored.
func UnknownSpans(list []Incident, interval time.Duration, now time.Time) []Span {
	var out []Span
	for _, inc := range list {
		if inc.Kind != KindProberOffline {
			continue
		}
		s := Span{From: inc.StartedAt.Add(-interval).UTC(), To: now.UTC()}
		if !inc.ResolvedAt.IsZero() && inc.ResolvedAt.Before(now) {
			s.To = inc.ResolvedAt.UTC()
		}
		if s.To.After(s.From) {
			out = append(out, s)
		}
	}
	return MergeSpans(out)
}

// MergeSpans sorts spans and joins those that overlap or touch; empty
// spans are dropped.
func MergeSpans(spans []Span) []Span {
	spans = slices.DeleteFunc(slices.Clone(spans), func(s Span) bool { return !s.To.After(s.From) })
	slices.SortFunc(spans, func(a, b Span) int { return a.From.Compare(b.From) })
	var out []Span
	for _, s := range spans {
		if n := len(out); n > 0 && !s.From.After(out[n-1].To) {
			if s.To.After(out[n-1].To) {
				out[n-1].To = s.To
			}
			continue
		}
		out = append(out, s)
	}
	return out
}
