package statuspage

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/charts")

// chartNow is the fixed "now" of the chart fixtures.
var chartNow = time.Date(2026, 11, 22, 14, 20, 0, 0, time.UTC)

func point(start time.Time, checks int64, p50, p95 time.Duration) LatencyPoint {
	return LatencyPoint{Start: start, Latency: Latency{Responses: checks, P50: p50, P95: p95}}
}

// fixtureCharts are fixed rollups: a day with a gap and two incidents (one
// resolved, one ongoing), a week, a month, and nothing yet.
func fixtureCharts() map[string]chart {
	ms := time.Millisecond
	day := chartRanges["24h"]
	from := day.from(chartNow)
	var dayPoints []LatencyPoint
	for i := 0; i < 25; i++ {
		if i == 5 || i == 6 { // no checks from 18:00 to 20:00 yesterday
			continue
		}
		p95 := time.Duration(150+10*(i%4)) * ms
		if i == 23 { // 13:00: the slow hour
			p95 = 2100 * ms
		}
		dayPoints = append(dayPoints, point(from.Add(time.Duration(i)*time.Hour), 60, 95*ms, p95))
	}
	week := chartRanges["7d"]
	var weekPoints []LatencyPoint
	for i := 0; i < 7*24+1; i++ {
		weekPoints = append(weekPoints, point(week.from(chartNow).Add(time.Duration(i)*time.Hour), 60, 40*ms, time.Duration(80+i%24*5)*ms))
	}
	month := chartRanges["30d"]
	var monthPoints []LatencyPoint
	for i := 0; i < 30*4+1; i++ {
		monthPoints = append(monthPoints, point(month.from(chartNow).Add(time.Duration(i)*6*time.Hour), 360, 300*ms, time.Duration(600+i%4*150)*ms))
	}
	return map[string]chart{
		"day": {ID: "chart-l-shop", Subject: "acme/shop", Range: day, From: from, To: chartNow,
			Series: LatencySeries{Total: Latency{Responses: 1380, P50: 95 * ms, P95: 180 * ms}, Points: dayPoints},
			Spans: []span{
				{Start: time.Date(2026, 11, 22, 13, 40, 0, 0, time.UTC), End: time.Date(2026, 11, 22, 14, 5, 0, 0, time.UTC)},
				{Start: time.Date(2026, 11, 22, 14, 15, 0, 0, time.UTC)},
			}},
		"week": {ID: "chart", Subject: "acme/shop", Range: week, From: week.from(chartNow), To: chartNow,
			Series: LatencySeries{Total: Latency{Responses: 10140, P50: 40 * ms, P95: 190 * ms}, Points: weekPoints}},
		"month": {ID: "chart", Subject: "acme/shop", Range: month, From: month.from(chartNow), To: chartNow,
			Series: LatencySeries{Total: Latency{Responses: 43560, P50: 300 * ms, P95: 1050 * ms}, Points: monthPoints},
			Spans:  []span{{Start: time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)}}},
		"nodata": {ID: "chart-h-abc", Subject: "shop.example", Range: day, From: from, To: chartNow},
	}
}

// TestChartsMatchGolden: fixed rollups draw the same SVG, byte for byte
// (go test ./statuspage -run Golden -update rewrites testdata/charts).
func TestChartsMatchGolden(t *testing.T) {
	t.Parallel()
	for name, c := range fixtureCharts() {
		for _, standalone := range []bool{false, true} {
			file := filepath.Join("testdata", "charts", name+".svg")
			if !standalone {
				file = filepath.Join("testdata", "charts", name+".inline.svg")
			}
			got := c.svg(standalone)
			if *update {
				if err := os.WriteFile(file, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("%s differs from %s:\n%s", name, file, got)
			}
		}
	}
}

// svgElement is what the tests read back from a chart.
type svgElement struct {
	Name  string
	Attrs map[string]string
	Text  string
}

// parseSVG checks that s is well-formed XML and returns its elements in
// document order.
func parseSVG(t *testing.T, s string) []svgElement {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	var out []svgElement
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			e := svgElement{Name: x.Name.Local, Attrs: map[string]string{}}
			for _, a := range x.Attr {
				e.Attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].Text += string(x)
			}
		}
	}
	return out
}

func TestChartsAreWellFormedAndLabelled(t *testing.T) {
	t.Parallel()
	for name, c := range fixtureCharts() {
		for _, standalone := range []bool{false, true} {
			els := parseSVG(t, c.svg(standalone))
			root := els[0]
			if root.Name != "svg" || root.Attrs["role"] != "img" {
				t.Fatalf("%s: root %+v, want an svg with role img", name, root)
			}
			if standalone && root.Attrs["xmlns"] != "http://www.w3.org/2000/svg" {
				t.Errorf("%s: standalone chart without the SVG namespace", name)
			}
			byID := map[string]svgElement{}
			for _, e := range els {
				if id := e.Attrs["id"]; id != "" {
					byID[id] = e
				}
			}
			labels := strings.Fields(root.Attrs["aria-labelledby"])
			if len(labels) != 2 || byID[labels[0]].Name != "title" || byID[labels[1]].Name != "desc" {
				t.Errorf("%s: aria-labelledby %q does not name its title and desc", name, labels)
			}
			if byID[labels[1]].Text == "" {
				t.Errorf("%s: empty desc", name)
			}
		}
	}
}

func TestChartDescribesTheNumbersInWords(t *testing.T) {
	t.Parallel()
	cs := fixtureCharts()
	for name, want := range map[string]string{
		"day":    "p95 over the last 24 hours: 180 ms, peak 2.1 s at 13:00 UTC; p50 95 ms; 2 incidents: 13:40–14:05 UTC, 14:15 UTC, ongoing.",
		"week":   "p95 over the last 7 days: 190 ms, peak 195 ms at 16 Nov 13:00 UTC; p50 40 ms; no incidents.",
		"month":  "p95 over the last 30 days: 1.1 s, peak 1.1 s at 24 Oct 06:00 UTC; p50 300 ms; one incident 2 Nov 03:00–09:30 UTC.",
		"nodata": "No data: no check got a response over the last 24 hours; no incidents.",
	} {
		if got := cs[name].describe(); got != want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
	if got := cs["day"].title(); got != "Response time of acme/shop over the last 24 hours" {
		t.Errorf("title %q", got)
	}
	if svg := cs["nodata"].svg(false); !strings.Contains(svg, ">No data</text>") {
		t.Errorf("an empty chart does not say so:\n%s", svg)
	}
}

// TestChartMarksIncidentsWhereTheyHappened: each incident is a band from
// its start to its end (an open one to now) on the plot's 0..1000 scale.
func TestChartMarksIncidentsWhereTheyHappened(t *testing.T) {
	t.Parallel()
	c := fixtureCharts()["day"]
	x := func(at time.Time) float64 { return 1000 * float64(at.Sub(c.From)) / float64(c.To.Sub(c.From)) }
	var bands [][2]float64
	for _, e := range parseSVG(t, c.svg(false)) {
		if e.Name == "rect" && e.Attrs["class"] == "inc" {
			x0, _ := strconv.ParseFloat(e.Attrs["x"], 64)
			w, _ := strconv.ParseFloat(e.Attrs["width"], 64)
			bands = append(bands, [2]float64{x0, x0 + w})
		}
	}
	want := [][2]float64{
		{x(c.Spans[0].Start), x(c.Spans[0].End)},
		{x(c.Spans[1].Start), 1000}, // still open: up to now, the right edge
	}
	if len(bands) != len(want) {
		t.Fatalf("bands %v, want %v", bands, want)
	}
	for i := range want {
		if math.Abs(bands[i][0]-want[i][0]) > 0.1 || math.Abs(bands[i][1]-want[i][1]) > 0.1 {
			t.Errorf("band %d spans %.1f–%.1f, want %.1f–%.1f", i, bands[i][0], bands[i][1], want[i][0], want[i][1])
		}
	}
	// An incident outside the window is not drawn; one that began before
	// it is cut at its left edge.
	views := []IncidentView{
		{}, // filled below
	}
	views[0].Targets, views[0].StartedAt, views[0].ResolvedAt = []string{"https://a.example/"}, c.From.Add(-3*time.Hour), c.From.Add(-time.Hour)
	views = append(views, views[0], views[0])
	views[1].StartedAt, views[1].ResolvedAt = c.From.Add(-time.Hour), c.From.Add(time.Hour)
	views[2].Targets = []string{"https://b.example/"}
	views[2].StartedAt, views[2].ResolvedAt = c.From.Add(time.Hour), c.From.Add(2*time.Hour)
	spans := spansOf(views, []string{"https://a.example/"}, c.From, c.To)
	if len(spans) != 1 || !spans[0].Start.Equal(c.From.Add(-time.Hour)) {
		t.Fatalf("spans %+v, want the one overlapping the window", spans)
	}
	c.Spans = spans
	for _, e := range parseSVG(t, c.svg(false)) {
		if e.Name == "rect" && e.Attrs["class"] == "inc" && e.Attrs["x"] != "0.0" {
			t.Errorf("an incident begun before the window starts at x=%s, want 0", e.Attrs["x"])
		}
	}
}

// TestChartIsInUTCWhateverTheLocalZone: the server's zone, and the zone of
// the times it is given, change nothing.
func TestChartIsInUTCWhateverTheLocalZone(t *testing.T) { // not parallel: it sets time.Local
	want := map[string]string{}
	for name, c := range fixtureCharts() {
		want[name] = c.svg(true)
	}
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	for _, zone := range []*time.Location{time.FixedZone("UTC-7", -7*3600), time.FixedZone("UTC+5:30", 5*3600+1800)} {
		time.Local = zone
		for name, c := range fixtureCharts() {
			c.From, c.To = c.From.In(zone), c.To.In(zone)
			for i := range c.Series.Points {
				c.Series.Points[i].Start = c.Series.Points[i].Start.In(zone)
			}
			for i := range c.Spans {
				c.Spans[i].Start = c.Spans[i].Start.In(zone)
			}
			if got := c.svg(true); got != want[name] {
				t.Errorf("%s in %s differs from UTC:\n%s", name, zone, got)
			}
		}
	}
	// And the labels are the UTC hours: 18:00, 00:00, 06:00, 12:00.
	var labels []string
	for _, e := range parseSVG(t, fixtureCharts()["day"].svg(false)) {
		if e.Name == "text" && strings.Contains(e.Text, ":") {
			labels = append(labels, e.Text)
		}
	}
	if got := fmt.Sprint(labels); got != "[18:00 00:00 06:00 12:00]" {
		t.Errorf("x labels %s", got)
	}
}

func TestLatencyBadgeColours(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tt := range []struct {
		d      time.Duration
		checks int64
		want   string
	}{
		{0, 0, badgeGrey},
		{5 * time.Second, 0, badgeGrey}, // no checks: no colour, whatever the number
		{1 * ms, 10, "#2da44e"},
		{299 * ms, 10, "#2da44e"},
		{300 * ms, 10, "#bf8700"},
		{999 * ms, 10, "#bf8700"},
		{time.Second, 10, "#cf222e"},
		{12 * time.Second, 10, "#cf222e"},
	} {
		if got := latencyColor(tt.d, tt.checks); got != tt.want {
			t.Errorf("latencyColor(%s, %d checks) = %s, want %s", tt.d, tt.checks, got, tt.want)
		}
	}
}

// The page's stylesheet carries the charts' shapes, from their one home.
func TestStatusCSSCarriesChartStyles(t *testing.T) {
	t.Parallel()
	if !bytes.Contains(statusCSS, []byte(chartShapesCSS)) {
		t.Error("status.css as served lacks chartShapesCSS")
	}
}

// The standalone chart's colours are the status page's, light and dark.
func TestStandaloneChartColoursAreThePages(t *testing.T) {
	t.Parallel()
	vars := func(block string) map[string]string {
		m := map[string]string{}
		for _, decl := range strings.FieldsFunc(block, func(r rune) bool { return r == ';' || r == '{' || r == '}' }) {
			if k, v, ok := strings.Cut(strings.TrimSpace(decl), ":"); ok && strings.HasPrefix(k, "--") {
				m[k] = strings.TrimSpace(v)
			}
		}
		return m
	}
	css := string(statusCSS)
	dark := strings.Index(css, "@media (prefers-color-scheme: dark)")
	pageLight, pageDark := vars(css[:dark]), vars(css[dark:strings.Index(css[dark:], "}\n}")+dark])
	darkAt := strings.Index(chartCSS, "@media")
	chartLight, chartDark := vars(chartCSS[:darkAt]), vars(chartCSS[darkAt:strings.Index(chartCSS, "}}")])
	if len(chartLight) < 5 || len(chartDark) < 5 {
		t.Fatalf("chart colours not read: %v %v", chartLight, chartDark)
	}
	for k, v := range chartLight {
		if pageLight[k] != v {
			t.Errorf("light %s: chart %s, page %s", k, v, pageLight[k])
		}
	}
	for k, v := range chartDark {
		if pageDark[k] != v {
			t.Errorf("dark %s: chart %s, page %s", k, v, pageDark[k])
		}
	}
}

// TestChartLabelsStayInsideTheNarrowestChart: at every minute of a day
// (every 10 minutes of a week for the longer ranges), each x label drawn
// fits, whole, inside a chart 260 px wide (a 320 px phone's), at the
// charts' 11 px font, about 6.4 px a character. At 01:13 UTC the 24-hour
// chart's last tick, 00:00, falls at 94.9 %: drawn, it ran past the
// chart's edge (the browser test found it at 360 px).
func TestChartLabelsStayInsideTheNarrowestChart(t *testing.T) {
	t.Parallel()
	const width, perChar = 260.0, 6.4
	pct := regexp.MustCompile(`<text x="([0-9.]+)%" y="166" text-anchor="middle">([^<]+)</text>`)
	for _, tc := range []struct {
		rng  string
		span time.Duration
		step time.Duration
	}{{"24h", 24 * time.Hour, time.Minute}, {"7d", 7 * 24 * time.Hour, 10 * time.Minute}, {"30d", 7 * 24 * time.Hour, 10 * time.Minute}} {
		r := chartRanges[tc.rng]
		for now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC); now.Before(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Add(tc.span)); now = now.Add(tc.step) {
			c := chart{ID: "c", Subject: "acme/shop", Range: r, From: r.from(now), To: now,
				Series: LatencySeries{Total: Latency{Responses: 1, P50: time.Millisecond, P95: time.Millisecond},
					Points: []LatencyPoint{point(r.from(now), 1, time.Millisecond, time.Millisecond)}}}
			for _, m := range pct.FindAllStringSubmatch(c.svg(false), -1) {
				x, err := strconv.ParseFloat(m[1], 64)
				if err != nil {
					t.Fatal(err)
				}
				half := perChar * float64(len(m[2])) / 2
				if mid := x / 100 * width; mid < half || width-mid < half {
					t.Fatalf("%s chart at %s: the label %q at %.1f%% runs past a %v px chart's edge", tc.rng, now.Format("Jan 2 15:04"), m[2], x, width)
				}
			}
		}
	}
}
