package storage

import (
	"slices"
	"time"

	"linkwatch"
)

// Reads is which rollup rows a read over a window counts: the hour
// rollups of the hours rolled up, the minute rollups after them, and none
// of the checks made in a span whose checks are unknown (the prober was
// offline: incidents.UnknownSpans). Where a span covers part of a rolled-up
// hour whose minutes are still kept (storage.retention.minute_rollups), the
// hour is read from its known minutes instead; beyond that, an hour a span
// touches is left out whole. An unknown check is never counted; a known
// one is lost only where its minutes are gone, and then at most the rest
// of the hour a span began or ended in.
type Reads struct {
	HoursFrom, HoursTo     int64   // hour rollups starting in [HoursFrom, HoursTo), Unix seconds,
	SkipHours              []int64 // but these (sorted);
	MinutesFrom, MinutesTo int64   // minute rollups starting in [MinutesFrom, MinutesTo),
	SkipMinutes            []int64 // but these (sorted);
	MoreMinutes            []int64 // and these: the known minutes of skipped hours whose minutes are kept (sorted)
	Packed                 int64   // minute rollups starting before it are packed by the hour (the hours rolled up)
}

// PlanReads plans a read of [from, to): from is rounded down to its hour
// (an hour rollup cannot be cut), hoursDone is the end of the last hour
// rolled up (0 for none), minutesKept the start of the oldest minute rollup
// still kept (0 for none), and unknown the spans whose checks are not
// counted. Reading buckets by key keeps the cost with the targets asked.
func PlanReads(hoursDone, minutesKept int64, from, to time.Time, unknown []linkwatch.Span) Reads {
	start, end := from.Truncate(time.Hour).Unix(), to.Unix()
	hoursEnd := min(max(hoursDone, start), floor(end, 3600))
	r := Reads{HoursFrom: start, HoursTo: hoursEnd, MinutesFrom: hoursEnd, MinutesTo: end, Packed: hoursDone}
	// The oldest kept minute's hour may have lost its first minutes to a
	// prune in progress: an hour's minutes are whole from the next hour on.
	whole := int64(1<<63 - 1)
	if minutesKept > 0 {
		whole = floor(minutesKept, 3600) + 3600
	}
	spans := minuteSpans(unknown)
	for _, s := range spans {
		for h := max(floor(s.from, 3600), start); h < min(s.to, hoursEnd); h += 3600 {
			if n := len(r.SkipHours); n > 0 && r.SkipHours[n-1] == h {
				continue // two spans in one hour
			}
			r.SkipHours = append(r.SkipHours, h)
			if h < whole {
				continue
			}
			for m := h; m < h+3600; m += 60 {
				if !inSpans(spans, m) {
					r.MoreMinutes = append(r.MoreMinutes, m)
				}
			}
		}
		for m := max(s.from, hoursEnd); m < min(s.to, end); m += 60 {
			r.SkipMinutes = append(r.SkipMinutes, m)
		}
	}
	return r
}

// Buckets lists the rows r reads: hour rollups and minute rollups, by
// start.
func (r Reads) Buckets() (hours, minutes []int64) {
	for b := r.HoursFrom; b < r.HoursTo; b += 3600 {
		if _, skip := slices.BinarySearch(r.SkipHours, b); !skip {
			hours = append(hours, b)
		}
	}
	minutes = append(minutes, r.MoreMinutes...)
	for b := r.MinutesFrom; b < r.MinutesTo; b += 60 {
		if _, skip := slices.BinarySearch(r.SkipMinutes, b); !skip {
			minutes = append(minutes, b)
		}
	}
	return hours, minutes
}

// countsMinute reports whether r reads the minute rollups of minute m.
func (r Reads) countsMinute(m int64) bool {
	if m >= r.MinutesFrom && m < r.MinutesTo {
		_, skip := slices.BinarySearch(r.SkipMinutes, m)
		return !skip
	}
	_, more := slices.BinarySearch(r.MoreMinutes, m)
	return more
}

// packedHours lists the hours whose packed minute rollups (before Packed)
// may hold a minute r reads, oldest first.
func (r Reads) packedHours() []int64 {
	var out []int64
	add := func(h int64) {
		if h < r.Packed && (len(out) == 0 || out[len(out)-1] < h) {
			out = append(out, h)
		}
	}
	for _, m := range r.MoreMinutes {
		add(floor(m, 3600))
	}
	for h := floor(r.MinutesFrom, 3600); h < min(r.MinutesTo, r.Packed); h += 3600 {
		add(h)
	}
	return out
}

// minuteSpan is a span widened to whole minutes, Unix seconds: every
// minute rollup that holds one of its checks.
type minuteSpan struct{ from, to int64 }

// minuteSpans widens spans to the minutes they touch, sorted and merged.
func minuteSpans(spans []linkwatch.Span) []minuteSpan {
	var out []minuteSpan
	for _, s := range linkwatch.MergeSpans(spans) {
		m := minuteSpan{floor(s.From.Unix(), 60), floor(s.To.Unix()+59, 60)}
		if n := len(out); n > 0 && m.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, m.to)
			continue
		}
		out = append(out, m)
	}
	return out
}

func inSpans(spans []minuteSpan, m int64) bool {
	for _, s := range spans {
		if m >= s.from && m < s.to {
			return true
		}
	}
	return false
}

// floor rounds t down to a multiple of unit (Unix seconds, before 1970
// included).
func floor(t, unit int64) int64 {
	if t < 0 && t%unit != 0 {
		return (t/unit - 1) * unit
	}
	return t / unit * unit
}
