package statuspage

import (
	"context"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"linkwatch"
)

// chartRange is a window a response-time chart covers, and the bucket its
// points are summed over: hour rollups cannot be cut, so every step is
// whole hours.
type chartRange struct {
	Name  string        // as in ?range=: 24h, 7d, 30d
	Span  time.Duration // how far back it reaches
	Step  time.Duration // one point per step
	Words string        // "the last 24 hours"
	tick  time.Duration // an x-axis label every tick, on UTC boundaries
	label string        // the tick labels' layout
}

var chartRanges = map[string]chartRange{
	"24h": {Name: "24h", Span: 24 * time.Hour, Step: time.Hour, Words: "the last 24 hours", tick: 6 * time.Hour, label: "15:04"},
	"7d":  {Name: "7d", Span: 7 * 24 * time.Hour, Step: time.Hour, Words: "the last 7 days", tick: 24 * time.Hour, label: "Mon 2"},
	"30d": {Name: "30d", Span: 30 * 24 * time.Hour, Step: 6 * time.Hour, Words: "the last 30 days", tick: 7 * 24 * time.Hour, label: "2 Jan"},
}

// chartRangeNames is how a bad ?range= is answered.
const chartRangeNames = "24h, 7d or 30d"

// from is where the chart of the range ending at now starts: the start of
// the step now-Span falls in, as the latency summary rounds its window.
func (r chartRange) from(now time.Time) time.Time { return now.Add(-r.Span).UTC().Truncate(r.Step) }

// LatencyPoint is the response time of one bucket of a series.
type LatencyPoint struct {
	Start time.Time
	Latency
}

// LatencySeries is response time over a window: in total, and bucket by
// bucket (oldest first, buckets without checks left out).
type LatencySeries struct {
	Total  Latency
	Points []LatencyPoint
}

// span is an incident drawn on a chart.
type span struct {
	Start, End time.Time // End is zero while it is open
}

// chart is one chart over a range: a link's or a host's response time
// (Series), with the incidents that touched it, or a count over time
// (Counts: the console's clicks).
type chart struct {
	ID      string // unique in its page: the prefix of its element ids
	Subject string // what it is about: "acme/shop", "shop.example"
	Range   chartRange
	From    time.Time
	To      time.Time // now, when it was read
	Series  LatencySeries
	Counts  *countSeries // set: a count chart, not a response-time one
	Spans   []span
}

// spansOf returns the incidents of views (public ones: the prober's own
// trouble is not the destination's) that hit any of targets between from
// and to, oldest first.
func spansOf(views []IncidentView, targets []string, from, to time.Time) []span {
	var out []span
	for _, v := range views {
		if !slices.ContainsFunc(v.Targets, func(t string) bool { return slices.Contains(targets, t) }) {
			continue
		}
		if !v.StartedAt.Before(to) || (!v.ResolvedAt.IsZero() && !v.ResolvedAt.After(from)) {
			continue
		}
		out = append(out, span{Start: v.StartedAt.UTC(), End: v.ResolvedAt.UTC()})
	}
	slices.SortFunc(out, func(a, b span) int { return a.Start.Compare(b.Start) })
	return out
}

// Chart geometry, in CSS pixels: the outer SVG is as wide as its container
// (100%) and chartHeight tall; the plot is a nested SVG stretched to the
// width (preserveAspectRatio="none", strokes that do not scale), so text
// stays its size on a phone and on a desktop alike.
const (
	chartHeight = 172
	plotTop     = 22
	plotHeight  = 128
	plotWidth   = 1000 // the plot's own x units
	labelY      = 166
	// labelEdge is how near an edge of the plot, in percent of its width,
	// an x label's middle may fall. A label is at most six characters of
	// the 11 px font (about 36 px), and the narrowest chart drawn, on a
	// 320 px phone, about 260 px wide: half a label is 7 % of it. At 5 %
	// the last label of a 24-hour chart ("00:00" at 94.9 %, for a quarter
	// of an hour every six) ran 0.75 px past the chart's edge at 360 px.
	labelEdge = 8
)

// chartCSS styles a standalone chart (/chart/...svg): the status page's
// colours, light and dark (a test holds them to status.css's). Inline
// charts take the page's stylesheet.
const chartCSS = `:root{--card:#fff;--muted:#555c69;--border:#d9dde4;--maint:#0969da;--major:#cf222e}` +
	`@media (prefers-color-scheme:dark){:root{--card:#1b1e25;--muted:#a9b0bd;--border:#2e333d;--maint:#58a6ff;--major:#f85149}}` +
	`.chart-bg{fill:var(--card)}` + chartShapesCSS

// chartShapesCSS is the charts' style, for the standalone SVG and, appended
// to status.css as it is served, for the inline charts.
const chartShapesCSS = `.chart text{fill:var(--muted);font:11px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}` +
	`.chart .grid{stroke:var(--border);stroke-width:1}` +
	`.chart .p95,.chart .count{fill:none;stroke:var(--maint);stroke-width:2;stroke-linejoin:round;stroke-linecap:round}` +
	`.chart .p50{fill:none;stroke:var(--muted);stroke-width:1.5;stroke-dasharray:4 3;stroke-linecap:round}` +
	`.chart .inc{fill:var(--major);fill-opacity:.16}` +
	`.chart .inc-edge{fill:var(--major)}` +
	`.chart .k95,.chart .kcount{fill:var(--maint)}` +
	`.chart .kinc{fill:var(--major)}` +
	`.chart .axis{paint-order:stroke;stroke:var(--card);stroke-width:3px}`

// svg draws the chart. standalone adds the XML namespace, a background and
// the colours; inline, the status page's stylesheet colours it.
func (c chart) svg(standalone bool) string {
	var b strings.Builder
	titleID, descID := xmlEscape(c.ID+"-t"), xmlEscape(c.ID+"-d")
	if standalone {
		// As wide as where it is shown (the status page's image of it, a
		// browser's window): the text and axes are laid out again at
		// that width rather than the drawing squeezed.
		fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="100%%" height="%d" role="img" aria-labelledby="%s %s">`, chartHeight, titleID, descID)
	} else {
		fmt.Fprintf(&b, `<svg class="chart" width="100%%" height="%d" role="img" aria-labelledby="%s %s">`, chartHeight, titleID, descID)
	}
	fmt.Fprintf(&b, `<title id="%s">%s</title><desc id="%s">%s</desc>`, titleID, xmlEscape(c.title()), descID, xmlEscape(c.describe()))
	if standalone {
		fmt.Fprintf(&b, `<style>%s</style><rect class="chart-bg" width="100%%" height="100%%"/>`, chartCSS)
	}
	p := c.plot()
	// The plot: incident bands, grid, lines.
	fmt.Fprintf(&b, `<svg x="0" y="%d" width="100%%" height="%d" viewBox="0 0 %d %d" preserveAspectRatio="none">`, plotTop, plotHeight, plotWidth, plotHeight)
	for _, s := range c.Spans {
		x0, x1 := c.x(s.Start), c.x(c.endOf(s))
		w := max(x1-x0, 3) // a short incident stays visible
		fmt.Fprintf(&b, `<rect class="inc" x="%.1f" y="0" width="%.1f" height="%d"/><rect class="inc-edge" x="%.1f" y="0" width="%.1f" height="4"/>`, x0, w, plotHeight, x0, w)
	}
	for _, y := range []float64{0, plotHeight / 2, plotHeight - 0.5} {
		fmt.Fprintf(&b, `<line class="grid" x1="0" x2="%d" y1="%.1f" y2="%.1f" vector-effect="non-scaling-stroke"/>`, plotWidth, y, y)
	}
	for _, t := range c.ticks() {
		x := c.x(t)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="0" y2="%d" vector-effect="non-scaling-stroke"/>`, x, x, plotHeight)
	}
	for _, l := range p.lines {
		fmt.Fprintf(&b, `<path class="%s" d="%s" vector-effect="non-scaling-stroke"/>`, l.class, c.path(l.points, p.top))
	}
	b.WriteString(`</svg>`)
	// Text: legend and time zone above, y labels inside the plot, x labels
	// below it, in UTC.
	if len(p.lines) == 0 {
		fmt.Fprintf(&b, `<text x="50%%" y="%d" text-anchor="middle">No data</text>`, plotTop+plotHeight/2)
	} else {
		b.WriteString(`<text x="2" y="13">` + p.legend)
		if len(c.Spans) > 0 {
			b.WriteString(`<tspan class="kinc" dx="12">█</tspan><tspan dx="4">incident</tspan>`)
		}
		b.WriteString(`</text>`)
		for _, g := range []struct {
			v float64
			y int
		}{{p.top, plotTop + 12}, {p.top / 2, plotTop + plotHeight/2 + 12}} {
			fmt.Fprintf(&b, `<text class="axis" x="4" y="%d">%s</text>`, g.y, p.label(g.v))
		}
	}
	if len(p.lines) == 0 && len(c.Spans) > 0 {
		b.WriteString(`<text x="2" y="13"><tspan class="kinc">█</tspan><tspan dx="4">incident</tspan></text>`)
	}
	for _, t := range c.ticks() {
		pct := 100 * c.x(t) / plotWidth
		if pct < labelEdge || pct > 100-labelEdge { // no label cut at the edges
			continue
		}
		fmt.Fprintf(&b, `<text x="%.1f%%" y="%d" text-anchor="middle">%s</text>`, pct, labelY, t.Format(c.Range.label))
	}
	b.WriteString(`<text x="100%" dx="-2" y="13" text-anchor="end">Times in UTC</text>`)
	b.WriteString(`</svg>`)
	return b.String()
}

// inline is the chart for the status page's HTML: markup built here,
// every text in it escaped by xmlEscape.
func (c chart) inline() template.HTML { return template.HTML(c.svg(false)) }

// x is where t falls on the plot, in its units, clamped to it.
func (c chart) x(t time.Time) float64 {
	total := c.To.Sub(c.From)
	if total <= 0 {
		return 0
	}
	f := float64(t.Sub(c.From)) / float64(total)
	return min(max(f, 0), 1) * plotWidth
}

// endOf is where a span ends on the chart: an open incident runs to now.
func (c chart) endOf(s span) time.Time {
	if s.End.IsZero() || s.End.After(c.To) {
		return c.To
	}
	return s.End
}

// ticks are the UTC boundaries inside the chart that get an x label.
func (c chart) ticks() []time.Time {
	var out []time.Time
	for t := c.From.Truncate(c.Range.tick).Add(c.Range.tick); t.Before(c.To); t = t.Add(c.Range.tick) {
		out = append(out, t.UTC())
	}
	return out
}

// line is one line a chart draws: its CSS class, and its points, oldest
// first, a bucket without a value left out.
type line struct {
	class  string
	points []plotPoint
}

// plotPoint is a line's value in the bucket starting at start.
type plotPoint struct {
	start time.Time
	v     float64
}

// plot is what a chart draws, whatever it measures: its lines (no line:
// no data), their legend's markup, the top of the y axis, and how a value
// on that axis reads.
type plot struct {
	lines  []line // drawn in order: the last on top
	legend string
	top    float64
	label  func(float64) string
}

// plot is what c draws: its counts, or its response times (p50 under
// p95).
func (c chart) plot() plot {
	if c.Counts != nil {
		return c.Counts.plot()
	}
	points := c.Series.Points
	if len(points) == 0 {
		return plot{}
	}
	of := func(v func(LatencyPoint) time.Duration) []plotPoint {
		out := make([]plotPoint, len(points))
		for i, p := range points {
			out[i] = plotPoint{p.Start, float64(v(p))}
		}
		return out
	}
	return plot{
		lines: []line{
			{"p50", of(func(p LatencyPoint) time.Duration { return p.P50 })},
			{"p95", of(func(p LatencyPoint) time.Duration { return p.P95 })},
		},
		legend: `<tspan class="k95">━ p95</tspan><tspan dx="12">╍ p50</tspan>`,
		top:    float64(niceMax(peakOf(points))),
		label:  func(v float64) string { return formatLatency(time.Duration(v)) },
	}
}

// path is a line through each bucket's middle (the last, still filling,
// at now), broken where a bucket has no value.
func (c chart) path(points []plotPoint, yMax float64) string {
	var b strings.Builder
	var prev time.Time
	for i, p := range points {
		mid := p.start.Add(c.Range.Step / 2)
		if mid.After(c.To) {
			mid = c.To
		}
		y := plotHeight * (1 - p.v/yMax)
		cmd := "L"
		if i == 0 || p.start.Sub(prev) > c.Range.Step {
			cmd = "M"
			if i > 0 {
				b.WriteByte(' ')
			}
		} else {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s%.1f %.1f", cmd, c.x(mid), y)
		// A bucket alone between gaps is a dot (a zero-length segment with
		// round caps).
		if (i+1 == len(points) || points[i+1].start.Sub(p.start) > c.Range.Step) && cmd == "M" {
			b.WriteString(" l0 0")
		}
		prev = p.start
	}
	return b.String()
}

// peakOf is the highest p95 of the points.
func peakOf(points []LatencyPoint) time.Duration {
	var m time.Duration
	for _, p := range points {
		m = max(m, p.P95)
	}
	return m
}

// niceMax is the top of the y axis: the first round value at or above
// peak, so the grid reads 0, half, top in plain numbers.
func niceMax(peak time.Duration) time.Duration {
	for _, v := range []time.Duration{50, 100, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 15000, 20000, 30000, 60000} {
		if d := v * time.Millisecond; d >= peak {
			return d
		}
	}
	return peak.Round(time.Minute) + time.Minute
}

func (c chart) title() string {
	if c.Counts != nil {
		return c.Counts.title(c)
	}
	return "Response time of " + c.Subject + " over " + c.Range.Words
}

// describe states the chart in words, for people who cannot see it:
// "p95 over the last 24 hours: 180 ms, peak 2.1 s at 14:00 UTC; p50 95 ms;
// one incident 13:40–14:05 UTC."
func (c chart) describe() string {
	if c.Counts != nil {
		return c.Counts.describe(c)
	}
	var b strings.Builder
	if c.Series.Total.Responses == 0 || len(c.Series.Points) == 0 {
		fmt.Fprintf(&b, "No data: no check got a response over %s", c.Range.Words)
	} else {
		fmt.Fprintf(&b, "p95 over %s: %s, %s; p50 %s", c.Range.Words,
			formatLatency(c.Series.Total.P95), c.peakWords(), formatLatency(c.Series.Total.P50))
	}
	c.writeSpans(&b)
	return b.String()
}

// altWords is what the chart adds to its link's row on the status page,
// which names the link (name) and says the window and its p50 and p95
// already: "Response time of Shop: peak 2.1 s at 14:00 UTC; one incident
// 13:40–14:05 UTC." Its image's text, a third of its title and
// description.
func (c chart) altWords(name string) string {
	var b strings.Builder
	b.WriteString("Response time of " + name + ": ")
	if c.Series.Total.Responses == 0 || len(c.Series.Points) == 0 {
		b.WriteString("no data")
	} else {
		b.WriteString(c.peakWords())
	}
	c.writeSpans(&b)
	return b.String()
}

// peakWords: "peak 2.1 s at 14:00 UTC", of a chart with points.
func (c chart) peakWords() string {
	peak := c.Series.Points[0]
	for _, p := range c.Series.Points {
		if p.P95 > peak.P95 {
			peak = p
		}
	}
	return "peak " + formatLatency(peak.P95) + " at " + stamp(peak.Start, c.To) + " UTC"
}

// writeSpans ends a description with the chart's incidents: "; no
// incidents.", "; one incident 13:40–14:05 UTC.".
func (c chart) writeSpans(b *strings.Builder) {
	switch len(c.Spans) {
	case 0:
		b.WriteString("; no incidents")
	case 1:
		b.WriteString("; one incident " + c.spanWords(c.Spans[0]))
	default:
		fmt.Fprintf(b, "; %d incidents: ", len(c.Spans))
		for i, s := range c.Spans {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.spanWords(s))
		}
	}
	b.WriteString(".")
}

// spanWords: "13:40–14:05 UTC", "13:40 UTC, ongoing".
func (c chart) spanWords(s span) string {
	if s.End.IsZero() {
		return stamp(s.Start, c.To) + " UTC, ongoing"
	}
	return stamp(s.Start, c.To) + "–" + stamp(s.End, s.Start) + " UTC"
}

// stamp is t in UTC as short as it stays clear: the time alone on ref's
// UTC day, with the date otherwise.
func stamp(t, ref time.Time) string {
	t, ref = t.UTC(), ref.UTC()
	if t.Truncate(24 * time.Hour).Equal(ref.Truncate(24 * time.Hour)) {
		return t.Format("15:04")
	}
	return t.Format("2 Jan 15:04")
}

// chartSubject is what a chart is drawn of: a link's destination, or
// every destination of a host taken together.
type chartSubject struct {
	ID      string // element id prefix, unique in the page
	Name    string
	Targets []string
}

// readCharts draws the chart of each subject over r ending at now, from
// one read of the rollups without the checks of the unknown spans, marking
// the incidents of views.
func readCharts(ctx context.Context, src Source, subjects []chartSubject, r chartRange, now time.Time, views []IncidentView, unknown []linkwatch.Span) (map[string]chart, error) {
	now = now.UTC()
	from := r.from(now)
	groups := make(map[string][]string, len(subjects))
	for _, s := range subjects {
		groups[s.ID] = s.Targets
	}
	series, err := src.LatencySeries(ctx, groups, from, now, r.Step, unknown)
	if err != nil {
		return nil, err
	}
	out := make(map[string]chart, len(subjects))
	for _, s := range subjects {
		out[s.ID] = chart{ID: s.ID, Subject: s.Name, Range: r, From: from, To: now, Series: series[s.ID],
			Spans: spansOf(views, s.Targets, from, now)}
	}
	return out, nil
}
