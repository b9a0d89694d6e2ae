package hub

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"linkwatch"
)

// A redirect allocates nothing: its headers' values are made once, per
// link and per constant, and assigned by their canonical names.
func TestRedirectAllocatesNothing(t *testing.T) {
	cat, err := NewCatalog([]PageSpec{{Slug: "ada", Links: []LinkSpec{{Slug: "go", URL: "https://go.dev/"}}}}, NewCounter(&memStore{}))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := httptest.NewRequest("GET", "http://hub.test/ada/go", nil)
	w := &discardWriter{h: http.Header{}}
	if n := testing.AllocsPerRun(100, func() { clear(w.h); srv.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("%.0f allocations per redirect, want 0", n)
	}
}

// The shared values are never written into: a later handler or writer
// adding to a redirect's headers leaves the next redirect's as they were,
// on the destination and on the fallback.
func TestRedirectHeadersAreNotShared(t *testing.T) {
	cat, err := NewCatalog([]PageSpec{{Slug: "ada", Links: []LinkSpec{
		{Slug: "go", URL: "https://go.dev/"},
		{Slug: "blog", URL: "https://ada.example/blog", Fallback: "https://backup.example/"},
	}}}, NewCounter(&memStore{}))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{{"ada", "blog"}: {Down: true, Fallback: "https://backup.example/"}}))
	if http.CanonicalHeaderKey(SelfCheckHeader) != SelfCheckHeader {
		t.Fatalf("SelfCheckHeader %q is not canonical: IsSelfCheck would never find it", SelfCheckHeader)
	}
	for _, path := range []string{"/ada/go", "/ada/blog"} {
		var want http.Header
		for i := range 2 {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest("GET", "http://hub.test"+path, nil))
			got := rec.Result().Header
			if i == 1 && !equalHeaders(got, want) {
				t.Fatalf("%s: the second redirect's headers %v, the first's %v", path, got, want)
			}
			want = got.Clone()
			for k := range rec.Header() {
				rec.Header().Add(k, "written after")
				rec.Header()[k] = append(rec.Header()[k], "appended")
			}
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
