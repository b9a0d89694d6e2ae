package hub

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"linkwatch"
)

// timings records what a RedirectTimer is told.
type timings []struct {
	o    RedirectOutcome
	took time.Duration
}

func (ts *timings) ObserveRedirect(o RedirectOutcome, took time.Duration) {
	*ts = append(*ts, struct {
		o    RedirectOutcome
		took time.Duration
	}{o, took})
}

// Each visitor's short-link request is counted and timed by what it got:
// the destination, the fallback, or the 404 page; the prober's self-checks,
// pages and other methods are not short-link requests of visitors.
func TestRedirectOutcomes(t *testing.T) {
	cat, err := NewCatalog([]PageSpec{{Slug: "ada", Links: []LinkSpec{
		{Slug: "go", URL: "https://go.dev/"},
		{Slug: "blog", URL: "https://ada.example/blog", Fallback: "https://backup.example/"},
	}}}, NewCounter(&memStore{}))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cat, slog.New(slog.DiscardHandler))
	srv.SetSelfCheckToken("s3cret")
	var timed timings
	srv.SetRedirectTimer(&timed)
	srv.ObserveHealth(healthOf(map[LinkKey]linkwatch.LinkHealth{{"ada", "blog"}: {Down: true, Fallback: "https://backup.example/"}}))
	requests := []struct {
		method, path string
		self         bool
		status       int
	}{
		{"GET", "/ada/go", false, http.StatusFound},
		{"HEAD", "/ada/go", false, http.StatusFound},
		{"GET", "/ada/blog", false, http.StatusFound}, // on its fallback
		{"GET", "/ada/nope", false, http.StatusNotFound},
		{"GET", "/nobody/go", false, http.StatusNotFound},
		{"GET", "/ada/go", true, http.StatusFound},      // the prober's
		{"GET", "/ada/nope", true, http.StatusNotFound}, // the prober's
		{"GET", "/ada", false, http.StatusOK},           // a page, not a short link
		{"GET", "/nobody", false, http.StatusNotFound},  // nor is an unknown page
		{"POST", "/ada/go", false, http.StatusMethodNotAllowed},
	}
	for _, rq := range requests {
		req := httptest.NewRequest(rq.method, rq.path, nil)
		if rq.self {
			req.Header.Set(SelfCheckHeader, "s3cret")
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != rq.status {
			t.Errorf("%s %s = %d, want %d", rq.method, rq.path, w.Code, rq.status)
		}
	}
	want := map[RedirectOutcome]int64{RedirectDestination: 2, RedirectFallback: 1, RedirectNotFound: 2}
	for _, o := range RedirectOutcomes {
		if got := srv.Redirects(o); got != want[o] {
			t.Errorf("Redirects(%s) = %d, want %d", o, got, want[o])
		}
	}
	if len(timed) != 5 {
		t.Fatalf("%d requests timed, want the visitors' 5: %v", len(timed), timed)
	}
	for i, o := range []RedirectOutcome{RedirectDestination, RedirectDestination, RedirectFallback, RedirectNotFound, RedirectNotFound} {
		if timed[i].o != o || timed[i].took <= 0 {
			t.Errorf("timing %d = %s in %s, want %s in a positive time", i, timed[i].o, timed[i].took, o)
		}
	}
	if got := srv.Redirects(redirectOutcomes); got != 0 {
		t.Errorf("Redirects of an unknown outcome = %d, want 0", got)
	}
}

func TestRedirectOutcomeNames(t *testing.T) {
	for o, want := range map[RedirectOutcome]string{RedirectDestination: "destination", RedirectFallback: "fallback", RedirectNotFound: "not_found", redirectOutcomes: "unknown"} {
		if got := o.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", o, got, want)
		}
	}
}
