package statuspage_test

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// wellFormed fails t unless body parses as XML.
func wellFormed(t *testing.T, what string, body []byte) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v\n%s", what, err, body)
		}
	}
}

func TestChartEndpoint(t *testing.T) {
	t.Parallel()
	srv, src := seeded(t)
	for _, q := range []string{"", "?range=24h", "?range=7d", "?range=30d"} {
		resp, body := get(t, srv.URL+"/chart/acme/shop.svg"+q)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml; charset=utf-8" {
			t.Fatalf("%s: status %d, type %s: %s", q, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		wellFormed(t, "chart"+q, body)
		svg := string(body)
		// The shop's open incident is marked, and said in words.
		for _, want := range []string{`role="img"`, `class="inc"`, `class="p95"`, "ongoing.</desc>", "Times in UTC"} {
			if !strings.Contains(svg, want) {
				t.Errorf("%s lacks %s:\n%s", q, want, svg)
			}
		}
		if resp.Header.Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("%s: Cache-Control %q", q, resp.Header.Get("Cache-Control"))
		}
	}
	// Read like the page: once per range while cached (the 24h one, and
	// the page's own snapshot, each once).
	before := src.series.Load()
	for range 3 {
		get(t, srv.URL+"/chart/acme/shop.svg?range=7d")
	}
	if n := src.series.Load() - before; n != 0 {
		t.Errorf("cached chart read the rollups %d more times", n)
	}
	// zed's store has no checks: a chart that says so, not an error.
	resp, body := get(t, srv.URL+"/chart/zed/store.svg")
	if resp.StatusCode != 200 || !strings.Contains(string(body), ">No data<") || !strings.Contains(string(body), "No data: no check got a response over the last 24 hours") {
		t.Errorf("empty chart: %d\n%s", resp.StatusCode, body)
	}
}

func TestChartEndpointRefusesBadInput(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/chart/acme/shop.svg?range=1y", 400, "range must be 24h, 7d or 30d"},
		{"/chart/acme/shop.svg?range=24H", 400, "range must be 24h, 7d or 30d"},
		{"/chart/acme/shop.svg?range=90d", 400, "range must be 24h, 7d or 30d"},
		{"/chart/nobody/shop.svg", 404, "no such page or link"},
		{"/chart/acme/nothing.svg", 404, "no such page or link"},
		{"/chart/ada/shop.svg", 404, "no such page or link"}, // acme's link, not ada's
	} {
		resp, body := get(t, srv.URL+tt.path)
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s: %d %q, want %d with %q", tt.path, resp.StatusCode, body, tt.status, tt.want)
		}
	}
}

func TestLatencyBadge(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	for _, tt := range []struct {
		path   string
		status int
		want   []string
	}{
		// Every check took 1 ms: green.
		{"/badge/acme/shop.svg?metric=p95", 200, []string{"acme/shop p95 24h: 1 ms", `fill="#2da44e"`}},
		{"/badge/acme/shop.svg?range=7d", 200, []string{"acme/shop p95 7d: 1 ms"}},
		{"/badge/acme/blog.svg?metric=p50&range=30d", 200, []string{"acme/blog p50 30d: 1 ms"}},
		{"/badge/zed/store.svg?metric=p50", 200, []string{"zed/store p50 24h: no data", `fill="#6e7781"`}},
		{"/badge/acme/shop.svg?metric=p99", 400, []string{"metric must be p50 or p95"}},
		{"/badge/acme/shop.svg?metric=", 200, []string{"acme/shop p95 24h"}},
		{"/badge/acme/shop.svg?range=2d", 400, []string{"range must be 24h, 7d or 30d"}},
		{"/badge/acme/shop.svg?metric=p95&uptime=7d", 400, []string{"uptime cannot be combined"}},
		{"/badge/acme.svg?metric=p95", 400, []string{"metric and range are for a link's badge"}},
		{"/badge/acme/nothing.svg?metric=p95", 404, []string{"no such page or link"}},
		// The status badge is unchanged without metric or range.
		{"/badge/acme/shop.svg", 200, []string{"acme/shop: major outage"}},
	} {
		resp, body := get(t, srv.URL+tt.path)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.path, resp.StatusCode, tt.status, body)
			continue
		}
		if tt.status == 200 {
			wellFormed(t, tt.path, body)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s lacks %q: %s", tt.path, w, body)
			}
		}
	}
}

// A page's link charts are images loaded lazily, so its first paint does
// not wait for them, each with the chart's words as its text, but for
// what its row says already (the window, its p50 and p95): the words of
// the chart it loads, which is the page's own (its snapshot's,
// read with the page: loading 1,000 of them reads nothing more). A host's
// chart is inline, inside the destinations disclosure of every page's
// status.
func TestStatusPagesCarryCharts(t *testing.T) {
	t.Parallel()
	srv, src := seeded(t)
	_, body := get(t, srv.URL+"/status/acme")
	page := string(body)
	if strings.Contains(page, "<svg") {
		t.Error("/status/acme draws its link charts inline")
	}
	reads := src.series.Load()
	for _, link := range []string{"shop", "blog"} {
		_, svg := get(t, srv.URL+"/chart/acme/"+link+".svg")
		title, desc := between(string(svg), "<title", "</title>"), between(string(svg), "<desc", "</desc>")
		title, desc = title[strings.Index(title, ">")+1:], desc[strings.Index(desc, ">")+1:]
		// "p95 over …: 1 ms, peak 1 ms at 16:00 UTC; p50 1 ms; no incidents."
		peak, _, _ := strings.Cut(desc[strings.Index(desc, "peak "):], ";")
		_, incidents, _ := strings.Cut(desc[strings.Index(desc, "; p50 ")+1:], ";")
		if !strings.HasPrefix(title, "Response time of acme/"+link+" over the last 24 hours") {
			t.Fatalf("the chart of %s is titled %q", link, title)
		}
		want := `<img class="chart" src="/chart/acme/` + link + `.svg" loading="lazy" alt="Response time of ` + link + ": " + peak + ";" + incidents + `">`
		if !strings.Contains(page, want) {
			t.Errorf("/status/acme lacks %s", want)
		}
	}
	if n := src.series.Load() - reads; n != 0 {
		t.Errorf("the page's 24-hour charts read the rollups %d more times", n)
	}
	_, body = get(t, srv.URL+"/status")
	page = string(body)
	for _, host := range []string{"shop.example", "blog.example"} {
		i := strings.Index(page, "Response time of "+host+" over the last 24 hours")
		details := strings.LastIndex(page[:max(i, 0)], "<details>")
		if i < 0 || details < 0 || strings.Contains(page[details:i], "</details>") {
			t.Errorf("/status: %s's chart missing or outside its destinations disclosure", host)
		}
	}
	if strings.Contains(page, "chart-l-") {
		t.Error("/status draws link charts")
	}
}

// between is the text of s from the first start to the end that follows.
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}
