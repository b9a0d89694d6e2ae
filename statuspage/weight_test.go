package statuspage_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/statuspage"
)

// maxBigPage is the most HTML the status page of BenchmarkStatusPage1000Links
// (1,000 links on 50 hosts) may weigh: issue 27's goal, 400 KB.
const maxBigPage = 400_000

// TestStatusPageOf1000LinksWeight: the status page of a page of 1,000
// links stays light: its HTML under maxBigPage (a size is deterministic:
// the benchmark's page, from a check an hour); its charts lazy images, none
// drawn inline, so the first paint waits for none; and a request for
// it, plain or gzipped, is served from its snapshot without rendering or
// compressing it again.
func TestStatusPageOf1000LinksWeight(t *testing.T) {
	src, cat, now := bigPage(t, time.Hour)
	// The clock stands still. A rebuild longer than a visitor waits (5 s:
	// a crowded machine, the race detector) answers 503 and goes on; the
	// next request waits for it again, and is served what it built.
	sp := statuspage.New(src, statuspage.Options{Interval: time.Minute, CacheFor: time.Second,
		Catalog: func() *hub.Catalog { return cat }, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	r := mux.NewRouter()
	sp.Register(r)
	serve := func(w http.ResponseWriter, accept string) {
		req := httptest.NewRequest("GET", "/status/big", nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		r.ServeHTTP(w, req)
	}
	get := func(accept string) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		serve(w, accept)
		for tries := 1; w.Code == http.StatusServiceUnavailable && tries < 5; tries++ {
			w = httptest.NewRecorder()
			serve(w, accept)
		}
		if w.Code != http.StatusOK {
			t.Fatalf("/status/big: %d", w.Code)
		}
		return w
	}
	page := get("").Body.String()
	if len(page) > maxBigPage {
		t.Errorf("/status/big is %d bytes of HTML, want at most %d", len(page), maxBigPage)
	}
	if n := strings.Count(page, `<li class="component" id="link-`); n != 1000 {
		t.Fatalf("%d link rows, want 1000", n)
	}
	if strings.Contains(page, "<svg") {
		t.Error("a chart is drawn inline")
	}
	lazy := regexp.MustCompile(`<img class="chart" src="/chart/big/l\d+\.svg" loading="lazy" alt="Response time of l\d+: [^"]+">`)
	if n := len(lazy.FindAllString(page, -1)); n != 1000 {
		t.Errorf("%d lazy chart images with their words, want 1000", n)
	}
	zr, err := gzip.NewReader(get("gzip").Body)
	if err != nil {
		t.Fatal(err)
	}
	if unzipped, err := io.ReadAll(zr); err != nil || !bytes.Equal(unzipped, []byte(page)) {
		t.Fatalf("the gzipped page is not the page (%v)", err)
	}

	// Rendering the page allocates at least its size, compressing it a
	// compressor's state (about 1 MB): a request from the snapshot, far
	// less.
	const requests = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w := &discardWriter{h: http.Header{}}
	for i := range requests {
		clear(w.h)
		serve(w, []string{"", "gzip"}[i%2])
	}
	runtime.ReadMemStats(&after)
	if w.code != http.StatusOK {
		t.Fatalf("/status/big: %d", w.code)
	}
	if per := (after.TotalAlloc - before.TotalAlloc) / requests; per > uint64(len(page))/4 {
		t.Errorf("a request for the cached page allocates %d bytes: rendered or compressed again", per)
	}
}
