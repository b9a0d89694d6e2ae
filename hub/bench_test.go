package hub

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"linkwatch"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler rather than the recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkRedirect is the redirect hot path: GET /{page}/{link} to its 302.
func BenchmarkRedirect(b *testing.B) {
	counter := NewCounter(&memStore{})
	cat, err := NewCatalog([]PageSpec{{Slug: "ada", Links: []LinkSpec{
		{Slug: "go", URL: "https://go.dev/"},
		{Slug: "blog", URL: "https://ada.example/blog"},
	}}}, counter)
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(cat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := httptest.NewRequest("GET", "http://hub.test/ada/go", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		srv.ServeHTTP(w, req)
	}
}

// BenchmarkRedirectOnFallback is the hot path of a link whose visitors are
// being sent to its fallback: one more atomic load and a map lookup.
func BenchmarkRedirectOnFallback(b *testing.B) {
	counter := NewCounter(&memStore{})
	cat, err := NewCatalog([]PageSpec{{Slug: "ada", Links: []LinkSpec{
		{Slug: "go", URL: "https://go.dev/", Fallback: "https://backup.example/"},
	}}}, counter)
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(cat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{{"ada", "go"}: {Down: true, Fallback: "https://backup.example/"}}))
	req := httptest.NewRequest("GET", "http://hub.test/ada/go", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		srv.ServeHTTP(w, req)
	}
}
