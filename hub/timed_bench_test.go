package hub_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"linkwatch/checker/schedule"
	"linkwatch/hub"
	"linkwatch/metrics"
	"linkwatch/metrics/prom"
)

type noClicks struct{}

func (noClicks) AddClicks(context.Context, time.Time, map[hub.LinkKey]hub.ClickCount) error {
	return nil
}

type discard struct{ h http.Header }

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(b []byte) (int, error) { return len(b), nil }
func (w *discard) WriteHeader(int)             {}

// BenchmarkRedirectTimed is BenchmarkRedirect as serve runs it: counted
// and timed into the Prometheus exporter's histogram.
func BenchmarkRedirectTimed(b *testing.B) {
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "ada", Links: []hub.LinkSpec{
		{Slug: "go", URL: "https://go.dev/"},
		{Slug: "blog", URL: "https://ada.example/blog"},
	}}}, hub.NewCounter(noClicks{}))
	if err != nil {
		b.Fatal(err)
	}
	srv := hub.NewServer(cat, slog.New(slog.DiscardHandler))
	srv.SetRedirectTimer(prom.New(metrics.Sources{Scheduler: func() schedule.Stats { return schedule.Stats{} }}, prom.Options{}))
	req := httptest.NewRequest("GET", "http://hub.test/ada/go", nil)
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		srv.ServeHTTP(w, req)
	}
}
