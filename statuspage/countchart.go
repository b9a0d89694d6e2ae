package statuspage

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// CountPoint is how many things (clicks) were counted in the bucket
// starting at Start.
type CountPoint struct {
	Start time.Time
	N     int64
}

// countSeries is what a count chart draws: a count per step of its range,
// every step present (none counted is zero), oldest first.
type countSeries struct {
	Noun   string // what is counted, plural: "clicks"
	Total  int64
	Points []CountPoint
}

// ChartFrom is where the chart of the range named (24h, 7d or 30d)
// ending at now starts: what a count chart's points are read from.
func ChartFrom(rangeName string, now time.Time) (time.Time, error) {
	r, ok := chartRanges[rangeName]
	if !ok {
		return time.Time{}, fmt.Errorf("range must be %s, not %q", chartRangeNames, rangeName)
	}
	return r.from(now), nil
}

// CountChart draws the count of noun ("clicks") on subject over the range
// named (24h, 7d or 30d) ending at now, as the status page's charts are
// drawn, for a page that loads status.css. points (any order, finer than
// the range's step if need be: hours) are summed into its steps; those
// before the range's start or after now are left out.
func CountChart(id, noun, subject, rangeName string, now time.Time, points []CountPoint) (template.HTML, error) {
	r, ok := chartRanges[rangeName]
	if !ok {
		return "", fmt.Errorf("range must be %s, not %q", chartRangeNames, rangeName)
	}
	now = now.UTC()
	from := r.from(now)
	s := &countSeries{Noun: noun}
	for t := from; t.Before(now); t = t.Add(r.Step) {
		s.Points = append(s.Points, CountPoint{Start: t})
	}
	for _, p := range points {
		if p.Start.Before(from) || !p.Start.Before(now) {
			continue
		}
		s.Points[int(p.Start.Sub(from)/r.Step)].N += p.N
		s.Total += p.N
	}
	return chart{ID: id, Subject: subject, Range: r, From: from, To: now, Counts: s}.inline(), nil
}

func (s *countSeries) plot() plot {
	if len(s.Points) == 0 {
		return plot{}
	}
	var peak int64
	points := make([]plotPoint, len(s.Points))
	for i, p := range s.Points {
		points[i] = plotPoint{p.Start, float64(p.N)}
		peak = max(peak, p.N)
	}
	return plot{
		lines:  []line{{"count", points}},
		legend: `<tspan class="kcount">━ ` + xmlEscape(s.Noun) + `</tspan>`,
		top:    float64(niceCount(peak)),
		label:  func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
	}
}

// niceCount is the top of a count chart's y axis: the first of 2, 4, 10,
// 20, 40, 100... at or above peak, so its half is a whole number too.
func niceCount(peak int64) int64 {
	for base := int64(1); ; base *= 10 {
		for _, m := range []int64{2, 4, 10} {
			if v := m * base; v >= peak {
				return v
			}
		}
	}
}

func (s *countSeries) title(c chart) string {
	return strings.ToUpper(s.Noun[:1]) + s.Noun[1:] + " on " + c.Subject + " over " + c.Range.Words
}

// describe states the chart in words: "312 clicks over the last 7 days,
// peak 40 at 3 Dec 14:00 UTC."
func (s *countSeries) describe(c chart) string {
	if s.Total == 0 {
		return fmt.Sprintf("No %s over %s.", s.Noun, c.Range.Words)
	}
	peak := s.Points[0]
	for _, p := range s.Points {
		if p.N > peak.N {
			peak = p
		}
	}
	return fmt.Sprintf("%d %s over %s, peak %d at %s UTC.", s.Total, s.Noun, c.Range.Words, peak.N, stamp(peak.Start, c.To))
}
