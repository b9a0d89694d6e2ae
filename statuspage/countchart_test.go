package statuspage

import (
	"strings"
	"testing"
	"time"
)

// TestCountChart: counts finer than the range's step (hours, for 30 days
// drawn by 6 hours) are summed into its steps, those outside the range
// left out, a step without counts drawn at zero; the chart says its total
// and peak in words, and an unknown range is an error.
func TestCountChart(t *testing.T) {
	t.Parallel()
	now := chartNow
	from, err := ChartFrom("30d", now)
	if err != nil {
		t.Fatal(err)
	}
	points := []CountPoint{
		{Start: from.Add(-time.Hour), N: 1000}, // before the range
		{Start: from.Add(6 * time.Hour), N: 3}, // the second step...
		{Start: from.Add(7 * time.Hour), N: 4}, // ...summed: 7
		{Start: now.Add(-2 * time.Hour).Truncate(time.Hour), N: 2},
		{Start: now.Add(time.Hour), N: 500}, // after now
	}
	svg, err := CountChart("clicks-chart", "clicks", "acme/shop", "30d", now, points)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	for _, want := range []string{
		`<title id="clicks-chart-t">Clicks on acme/shop over the last 30 days</title>`,
		`<desc id="clicks-chart-d">9 clicks over the last 30 days, peak 7 at 23 Oct 18:00 UTC.</desc>`,
		`<path class="count" d="M4.2 128.0 L12.5 38.4 L20.8 128.0`, // 7 of 10
		`<tspan class="kcount">━ clicks</tspan>`, `<text class="axis" x="4" y="34">10</text>`, `>5</text>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("chart lacks %q:\n%s", want, s)
		}
	}
	if s := string(must(CountChart("c", "clicks", "all links", "24h", now, nil))); !strings.Contains(s, "No clicks over the last 24 hours.") || strings.Contains(s, "No data") {
		t.Errorf("a chart without clicks:\n%s", s)
	}
	if _, err := CountChart("c", "clicks", "x", "1y", now, nil); err == nil {
		t.Error("range 1y drew a chart")
	}
	if _, err := ChartFrom("1y", now); err == nil {
		t.Error("range 1y has a start")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
