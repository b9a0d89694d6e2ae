package statuspage_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/incidents"
	"linkwatch/statuspage"
	"linkwatch/statuspage/storesource"
	"linkwatch/storage/sqlite/sqlitetest"
)

// discardWriter keeps nothing but the size, so the benchmark measures the
// handler rather than a recorder.
type discardWriter struct {
	h    http.Header
	n    int
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// noRollups is the reference: the same store, read as if it held no
// latency rollups, so every chart is "No data".
type noRollups struct{ *source }

func (noRollups) LatencySeries(context.Context, map[string][]string, time.Time, time.Time, time.Duration, []linkwatch.Span) (map[string]statuspage.LatencySeries, error) {
	return nil, nil
}

// BenchmarkStatusPage1000Links renders /status/big, a page of 1,000 links
// on 50 hosts with 24 hours of rollups (settled hours, and the minutes of
// the hour under way) and a few incidents: cold (the snapshot rebuilt from
// the store each time: the state, 90 days of history, the charts' reads,
// with the settled hours kept from the rebuild before, as serve keeps
// them), cold-every-hour (the same, reading every hour every time), warm
// (the cached snapshot, within its 5 s) and render (the page built again
// from a snapshot in hand: what each snapshot costs past its reads),
// beside the same page over no latency rollups. bytes/page is the HTML,
// gzip-bytes/page the same compressed.
//
//	go test ./statuspage -run '^$' -bench StatusPage1000Links -benchtime 20x
func BenchmarkStatusPage1000Links(b *testing.B) {
	ctx := context.Background()
	src, cat, now := bigPage(b, 10*time.Minute)
	for _, tt := range []struct {
		name   string
		src    statuspage.Source
		cache  time.Duration
		render bool
	}{
		{"cold", src, time.Nanosecond, false},
		{"cold-every-hour", &source{Source: storesource.Source{Store: src.DB}, DB: src.DB}, time.Nanosecond, false},
		{"warm", src, time.Hour, false},
		{"render", src, time.Hour, true},
		{"cold-no-rollups", noRollups{src}, time.Nanosecond, false},
		{"warm-no-rollups", noRollups{src}, time.Hour, false},
	} {
		b.Run(tt.name, func(b *testing.B) {
			began := time.Now()
			sp := statuspage.New(tt.src, statuspage.Options{Interval: time.Minute, CacheFor: tt.cache,
				Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler),
				Now: func() time.Time { return now.Add(time.Since(began)) }})
			r := mux.NewRouter()
			sp.Register(r)
			req := httptest.NewRequest("GET", "/status/big", nil)
			w := &discardWriter{h: http.Header{}}
			r.ServeHTTP(w, req) // the warm runs start warm
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
			page := httptest.NewRecorder()
			r.ServeHTTP(page, req)
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			if _, err := zw.Write(page.Body.Bytes()); err != nil || zw.Close() != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if tt.render {
					if _, err := sp.RenderPage(ctx, "big"); err != nil {
						b.Fatal(err)
					}
					continue
				}
				w.n = 0
				clear(w.h)
				r.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(page.Body.Len()), "bytes/page")
			b.ReportMetric(float64(gz.Len()), "gzip-bytes/page")
		})
	}
}

// bigPage is the status page of BenchmarkStatusPage1000Links: the store
// behind /status/big, one page of 1,000 links on 50 hosts with 24 hours of
// rollups (settled hours, a check every every, and the minutes of the hour
// under way) and ten incidents, two of them open, at now. The rollups are
// as many whatever every; a test saves a check an hour, a sixth of the
// benchmark's results, for the same page (392,053 bytes either way: its
// figures are the histograms' bounds).
func bigPage(tb testing.TB, every time.Duration) (*source, *hub.Catalog, time.Time) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(tb)
	now := time.Date(2026, 11, 22, 14, 20, 0, 0, time.UTC)
	db.SetClock(func() time.Time { return now })
	var links []hub.LinkSpec
	for i := range 1000 {
		links = append(links, hub.LinkSpec{Slug: fmt.Sprintf("l%d", i), URL: fmt.Sprintf("https://h%d.example/p%d", i%50, i)})
	}
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "big", Title: "Big", Links: links}}, hub.NewCounter(nil))
	if err != nil {
		tb.Fatal(err)
	}
	var batch []linkwatch.Result
	add := func(u string, at time.Time, i int) {
		st := linkwatch.StatusUp
		if i%97 == 0 {
			st = linkwatch.StatusDown
		}
		batch = append(batch, linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: at,
			Latency: time.Duration(40+i%300) * time.Millisecond, Status: st})
	}
	start := now.Add(-24 * time.Hour).Truncate(time.Hour)
	for _, l := range links {
		for h := 0; h < 24; h++ { // the settled hours
			for m := time.Duration(0); m < time.Hour; m += every {
				add(l.URL, start.Add(time.Duration(h)*time.Hour+m), h*7+int(m.Minutes()))
			}
		}
		for m := 0; m < 20; m++ { // the hour under way, a minute at a time
			add(l.URL, now.Truncate(time.Hour).Add(time.Duration(m)*time.Minute), m)
		}
	}
	if err := db.SaveResults(ctx, batch); err != nil {
		tb.Fatal(err)
	}
	if err := db.RollUp(ctx); err != nil {
		tb.Fatal(err)
	}
	for i := range 10 {
		u := links[i*37].URL
		inc := linkwatch.Incident{Key: "dest:" + u, Kind: linkwatch.KindDestination, Title: "down", Cause: linkwatch.CauseHTTP5xx,
			Status: linkwatch.StatusResolved, Impact: linkwatch.ImpactMajor, Targets: []string{u},
			StartedAt: now.Add(-time.Duration(2+i*2) * time.Hour), UpdatedAt: now, ResolvedAt: now.Add(-time.Duration(1+i*2) * time.Hour)}
		if i < 2 {
			inc.Status, inc.ResolvedAt = linkwatch.StatusInvestigating, time.Time{}
		}
		if _, err := db.Record(ctx, incidents.Change{Incident: inc}); err != nil {
			tb.Fatal(err)
		}
	}
	return newSource(db), cat, now
}
