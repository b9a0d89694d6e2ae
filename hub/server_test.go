package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch/hub/middleware"
)

// memStore is a ClickStore in memory that can be told to fail. It keeps
// every link's totals, and by hour ("15:04" in UTC).
type memStore struct {
	mu     sync.Mutex
	counts map[LinkKey]ClickCount
	hours  map[string]map[LinkKey]ClickCount
	fail   error
}

func (m *memStore) AddClicks(_ context.Context, hour time.Time, c map[LinkKey]ClickCount) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if hour.Location() != time.UTC || !hour.Truncate(time.Hour).Equal(hour) {
		return fmt.Errorf("hour %s is not an hour's start in UTC", hour)
	}
	if m.counts == nil {
		m.counts, m.hours = map[LinkKey]ClickCount{}, map[string]map[LinkKey]ClickCount{}
	}
	h := hour.Format("15:04")
	if m.hours[h] == nil {
		m.hours[h] = map[LinkKey]ClickCount{}
	}
	for k, n := range c {
		m.counts[k] = ClickCount{m.counts[k].Clicks + n.Clicks, m.counts[k].Fallback + n.Fallback}
		m.hours[h][k] = ClickCount{m.hours[h][k].Clicks + n.Clicks, m.hours[h][k].Fallback + n.Fallback}
	}
	return nil
}

func newTestServer(t *testing.T, store ClickStore) (*Server, *Counter) {
	t.Helper()
	counter := NewCounter(store)
	cat, err := NewCatalog([]PageSpec{
		{Slug: "ada", Title: "Ada <script>alert(1)</script>", Description: "Notes", Links: []LinkSpec{
			{Slug: "go", Title: "Go & <b>friends</b>", URL: "https://go.dev/"},
			{Slug: "blog", URL: "https://ada.example/blog?x=1&y=2"},
		}},
		{Slug: "empty"},
	}, counter)
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	return NewServer(cat, slog.New(slog.NewTextHandler(io.Discard, nil))), counter
}

func TestServer(t *testing.T) {
	srv, counter := newTestServer(t, &memStore{})
	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		wantStatus int
		wantHeader map[string]string
		wantBody   []string
		denyBody   []string
	}{
		{name: "page", method: "GET", path: "/ada", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff"},
			wantBody:   []string{`href="/ada/go"`, "Ada &lt;script&gt;alert(1)&lt;/script&gt;", "Go &amp; &lt;b&gt;friends&lt;/b&gt;", ">blog<"},
			denyBody:   []string{"<script>alert"}},
		{name: "page trailing slash", method: "GET", path: "/ada/", wantStatus: 200, wantBody: []string{`href="/ada/go"`}},
		{name: "page without links", method: "GET", path: "/empty", wantStatus: 200, wantBody: []string{"No links yet."}},
		{name: "index", method: "GET", path: "/", wantStatus: 200, wantBody: []string{`href="/ada"`, `href="/empty"`, `href="/status"`}},
		{name: "redirect", method: "GET", path: "/ada/go", wantStatus: 302,
			wantHeader: map[string]string{"Location": "https://go.dev/", "Cache-Control": "no-store"}},
		{name: "redirect keeps query", method: "GET", path: "/ada/blog", wantStatus: 302,
			wantHeader: map[string]string{"Location": "https://ada.example/blog?x=1&y=2"}},
		{name: "redirect HEAD", method: "HEAD", path: "/ada/go", wantStatus: 302,
			wantHeader: map[string]string{"Location": "https://go.dev/"}},
		{name: "self check", method: "GET", path: "/ada/go", header: map[string]string{SelfCheckHeader: "1"}, wantStatus: 302},
		{name: "page HEAD", method: "HEAD", path: "/ada", wantStatus: 200},
		{name: "unknown page", method: "GET", path: "/nobody", wantStatus: 404, wantBody: []string{"Not found", "<code>/nobody</code>"}},
		{name: "unknown link", method: "GET", path: "/ada/nope", wantStatus: 404, wantBody: []string{"Not found"}},
		{name: "too deep", method: "GET", path: "/ada/go/x", wantStatus: 404},
		{name: "empty page segment", method: "GET", path: "//go", wantStatus: 404},
		{name: "escaped 404 path", method: "GET", path: "/<img>", wantStatus: 404, denyBody: []string{"<img>"}},
		{name: "post", method: "POST", path: "/ada/go", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "stylesheet", method: "GET", path: "/static/hub.css", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/css; charset=utf-8"}, wantBody: []string{".link"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://hub.test"+tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			// The security headers are the middleware's, as serve wraps
			// every answer in it.
			middleware.SecurityHeaders(srv).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body:\n%s", rec.Code, tt.wantStatus, rec.Body)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			body := rec.Body.String()
			if tt.method == "HEAD" && body != "" {
				t.Errorf("HEAD answered with a body of %d bytes", len(body))
			}
			for _, s := range tt.wantBody {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.denyBody {
				if strings.Contains(body, s) {
					t.Errorf("body contains %q:\n%s", s, body)
				}
			}
		})
	}
	// Of all the requests above, only the two plain GET redirects are clicks:
	// HEAD and the prober's self-check are not.
	want := map[LinkKey]ClickCount{{"ada", "go"}: {Clicks: 1}, {"ada", "blog"}: {Clicks: 1}}
	if got := counter.Pending(); !equalCounts(got, want) {
		t.Errorf("pending clicks = %v, want %v", got, want)
	}
}

func equalCounts(a, b map[LinkKey]ClickCount) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCounterFlushKeepsClicksOnFailure(t *testing.T) {
	store := &memStore{fail: errors.New("disk full")}
	srv, counter := newTestServer(t, store)
	for range 3 {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ada/go", nil))
	}
	if err := counter.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Flush error = %v, want the store's error", err)
	}
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ada/go", nil))
	store.fail = nil
	if err := counter.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := store.counts[LinkKey{"ada", "go"}].Clicks; got != 4 {
		t.Errorf("stored clicks = %d, want 4 (3 from the failed flush + 1)", got)
	}
	if p := counter.Pending(); len(p) != 0 {
		t.Errorf("pending after flush = %v, want none", p)
	}
}

func TestCatalogReloadKeepsClicks(t *testing.T) {
	srv, counter := newTestServer(t, &memStore{})
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ada/go", nil))
	next, err := NewCatalog([]PageSpec{{Slug: "ada", Links: []LinkSpec{{Slug: "go", URL: "https://go.dev/doc/"}}}}, counter)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetCatalog(next)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/ada/go", nil))
	if loc := rec.Header().Get("Location"); loc != "https://go.dev/doc/" {
		t.Errorf("Location after reload = %q", loc)
	}
	if got := counter.Pending()[LinkKey{"ada", "go"}].Clicks; got != 2 {
		t.Errorf("clicks across reload = %d, want 2", got)
	}
	if _, ok := srv.Catalog().Page("empty"); ok {
		t.Error("removed page still served after reload")
	}
}

func TestNewCatalogRejects(t *testing.T) {
	tests := []struct {
		name  string
		pages []PageSpec
		want  string
	}{
		{"bad page slug", []PageSpec{{Slug: "Status"}}, "lowercase"},
		{"duplicate page", []PageSpec{{Slug: "a"}, {Slug: "a"}}, "duplicate"},
		{"duplicate link", []PageSpec{{Slug: "a", Links: []LinkSpec{{Slug: "x", URL: "https://a/"}, {Slug: "x", URL: "https://b/"}}}}, "duplicate"},
		{"bad url", []PageSpec{{Slug: "a", Links: []LinkSpec{{Slug: "x", URL: "file:///etc/passwd"}}}}, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCatalog(tt.pages, NewCounter(&memStore{}))
			checkErr(t, err, tt.want)
		})
	}
}

func TestDestinationsDeduplicates(t *testing.T) {
	cat, err := NewCatalog([]PageSpec{
		{Slug: "a", Links: []LinkSpec{{Slug: "x", URL: "https://one.example/"}, {Slug: "y", URL: "https://two.example/"}}},
		{Slug: "b", Links: []LinkSpec{{Slug: "z", URL: "https://one.example/"}}},
	}, NewCounter(&memStore{}))
	if err != nil {
		t.Fatal(err)
	}
	d := cat.Destinations()
	if len(d) != 2 || d[0].URL != "https://one.example/" || len(d[0].Links) != 2 || len(d[1].Links) != 1 {
		t.Errorf("Destinations = %+v", d)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want route
	}{
		{"/", route{kind: routeIndex}},
		{"/static/hub.css", route{kind: routeStyle}},
		{"/ada", route{kind: routePage, page: "ada"}},
		{"/ada/", route{kind: routePage, page: "ada"}},
		{"/ada/go", route{kind: routeLink, page: "ada", link: "go"}},
		{"/ada/go/", route{}},
		{"//", route{}},
		{"", route{}},
		{"ada", route{}},
	}
	for _, tt := range tests {
		if got := parsePath(tt.path); got != tt.want {
			t.Errorf("parsePath(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/", "/ada", "/ada/", "/ada/go", "//x", "/a/b/c", "/static/hub.css", "/%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r := parsePath(p)
		switch r.kind {
		case routePage:
			if r.page == "" || strings.Contains(r.page, "/") {
				t.Fatalf("page route with bad page %q from %q", r.page, p)
			}
		case routeLink:
			if r.page == "" || r.link == "" || strings.Contains(r.page+r.link, "/") {
				t.Fatalf("link route with bad parts %+v from %q", r, p)
			}
			if "/"+r.page+"/"+r.link != p {
				t.Fatalf("link route %+v does not rebuild %q", r, p)
			}
		}
	})
}

func TestSelfCheckToken(t *testing.T) {
	srv, counter := newTestServer(t, &memStore{})
	srv.SetSelfCheckToken("s3cret")
	for _, v := range []string{"s3cret", "1", "", "S3CRET"} {
		req := httptest.NewRequest("GET", "/ada/go", nil)
		if v != "" {
			req.Header.Set(SelfCheckHeader, v)
		}
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Only the request with the real token is the prober's.
	if got := counter.Pending()[LinkKey{"ada", "go"}].Clicks; got != 3 {
		t.Errorf("clicks = %d, want 3 (a spoofed header is still a visitor)", got)
	}
	// Redirects served counts visitors only: not the prober's request.
	if got := srv.Redirects(RedirectDestination); got != 3 {
		t.Errorf("redirects served = %d, want 3", got)
	}
}
