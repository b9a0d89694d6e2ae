package statuspage_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/storage/sqlite/sqlitetest"
)

// TestFailedChecksHaveNoResponseTime: a link whose every check failed on
// DNS (in 10 to 44 ms) has no response time: "no data", grey, in its
// page's status, its latency badge, its chart and the JSON; a link that
// answers in 20 ms and times out now and then (in 3 s) reads 20 ms, the
// timeouts in none of its numbers.
func TestFailedChecksHaveNoResponseTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	const dnsURL, okURL = "https://gone.example/", "https://ok.example/"
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "gone", URL: dnsURL}, {Slug: "ok", URL: okURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var batch []linkwatch.Result
	for i := range 6 * 60 { // six hours, a check a minute
		at := now.Add(-6*time.Hour + time.Duration(i)*time.Minute)
		batch = append(batch, linkwatch.Result{TargetID: dnsURL, Kind: linkwatch.TargetDestination, URL: dnsURL, Start: at,
			Latency: time.Duration(10+i%35) * time.Millisecond, Status: linkwatch.StatusDown, Cause: linkwatch.CauseDNS, Summary: "lookup gone.example: no such host"})
		r := linkwatch.Result{TargetID: okURL, Kind: linkwatch.TargetDestination, URL: okURL, Start: at, Latency: 20 * time.Millisecond, Status: linkwatch.StatusUp, StatusCode: 200}
		if i%10 == 0 {
			r.Status, r.Cause, r.Latency, r.StatusCode = linkwatch.StatusDown, linkwatch.CauseTimeout, 3*time.Second, 0
		}
		batch = append(batch, r)
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	srv := statusServer(t, newSource(db), cat, "https://links.example")

	_, body := get(t, srv.URL+"/status/acme")
	html := string(body)
	gone := html[strings.Index(html, `id="link-gone"`):strings.Index(html, `id="link-ok"`)]
	if !strings.Contains(gone, `24 hours: no data (no check got a response)`) || strings.Contains(gone, "median") {
		t.Errorf("the DNS-failing link shows a response time:\n%s", gone)
	}
	if _, chart := get(t, srv.URL+"/chart/acme/gone.svg"); !strings.Contains(string(chart), ">No data</text>") || strings.Contains(string(chart), `class="p95" d=`) {
		t.Errorf("the DNS-failing link's chart draws a line:\n%s", chart)
	}
	if !strings.Contains(html, `24 hours: median 20 ms, p95 20 ms`) {
		t.Error("the answering link's response time is not 20 ms: its timeouts were counted")
	}

	for _, tt := range []struct{ path, want, color string }{
		{"/badge/acme/gone.svg?metric=p95", ">no data<", "#6e7781"},
		{"/badge/acme/gone.svg?metric=p50&range=7d", ">no data<", "#6e7781"},
		{"/badge/acme/ok.svg?metric=p95", ">20 ms<", "#2da44e"},
	} {
		if _, b := get(t, srv.URL+tt.path); !strings.Contains(string(b), tt.want) || !strings.Contains(string(b), `fill="`+tt.color+`"`) {
			t.Errorf("%s: want %s in %s:\n%s", tt.path, tt.want, tt.color, b)
		}
	}
	if _, b := get(t, srv.URL+"/chart/acme/gone.svg?range=7d"); !strings.Contains(string(b), ">No data</text>") || strings.Contains(string(b), `class="p95" d=`) {
		t.Errorf("the DNS-failing link's 7-day chart:\n%s", b)
	}

	_, body = get(t, srv.URL+"/status/acme/api/v2/components.json")
	var m struct {
		Components []struct {
			Name         string
			ResponseTime json.RawMessage `json:"response_time"`
		}
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"response_time":{"window":"24h","responses":0,"p50_ms":null,"p95_ms":null}`) {
		t.Errorf("components.json: the DNS-failing destination's response_time is not null (no data):\n%s", body)
	}
	if !strings.Contains(string(body), `"response_time":{"window":"24h","responses":324,"p50_ms":20,"p95_ms":20}`) {
		t.Errorf("components.json: the answering destination's response_time is not its 324 answers in 20 ms:\n%s", body)
	}
	for _, c := range m.Components {
		if (c.Name == dnsURL || c.Name == okURL) != (len(c.ResponseTime) > 0) {
			t.Errorf("component %s: response_time %s (destinations only)", c.Name, c.ResponseTime)
		}
	}
}
