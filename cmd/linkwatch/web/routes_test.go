package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/hub/middleware"
	"linkwatch/incidents/admin"
	"linkwatch/statuspage"
)

// samplePath fills a route's path template with values its variables
// match, the way a visitor's request would: /chart/{page}/{link}.svg is
// /chart/ada/go.svg.
func samplePath(tpl string) string {
	return regexp.MustCompile(`\{([a-z]+)(:[^}]*)?\}`).ReplaceAllStringFunc(tpl, func(v string) string {
		name, _, _ := strings.Cut(strings.Trim(v, "{}"), ":")
		switch name {
		case "page":
			return "ada"
		case "link":
			return "go"
		case "ext":
			return "svg"
		case "id":
			return "1"
		}
		return name
	})
}

// Every route of the table is reserved: its path reaches the router, not
// the hub's fast path, and a page (or link) slug that its first (or
// second) segment could be is refused by config validation.
func TestEveryRouteIsReserved(t *testing.T) {
	t.Parallel()
	f := New(Handlers{Hub: testHub(t), Admin: new(admin.API), Status: new(statuspage.Server)}).(*front)
	n := 0
	err := f.router.(*mux.Router).Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return nil
		}
		n++
		p := samplePath(tpl)
		if f.reserved.hubPath(p) {
			t.Errorf("route %s: %s goes to the hub, not to its route", tpl, p)
		}
		segs := strings.Split(strings.TrimPrefix(tpl, "/"), "/")
		if first := segs[0]; hub.ValidSlug(first) && ReservedPageSlug(first) == nil {
			t.Errorf("route %s: a page may be named %q", tpl, first)
		}
		if first := segs[0]; strings.HasPrefix(first, "{") && len(segs) == 2 && hub.ValidSlug(segs[1]) && ReservedLinkSlug(segs[1]) == nil {
			t.Errorf("route %s: a link may be named %q", tpl, segs[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("walked %d routes: the table is not the one serve uses", n)
	}
	// What the config refuses (the table's own first segments), named
	// nowhere else.
	for _, s := range []string{"status", "api", "badge", "chart", "healthz", "readyz", "static", "metrics"} {
		if ReservedPageSlug(s) == nil {
			t.Errorf("page slug %q is accepted", s)
		}
	}
	for _, s := range []string{"ada", "statusx", "charts", "qr"} {
		if err := ReservedPageSlug(s); err != nil {
			t.Errorf("page slug %q: %v", s, err)
		}
	}
}

func TestFrontHandsHubPathsToTheHub(t *testing.T) {
	t.Parallel()
	f := New(Handlers{Hub: testHub(t), Admin: new(admin.API), Status: new(statuspage.Server)}).(*front)
	for _, tt := range []struct {
		path string
		hub  bool
	}{
		{"/ada", true}, {"/ada/", true}, {"/ada/go", true}, {"/statusx", true}, {"/charts/go", true}, {"/qr", true}, {"/ada/qr", true},
		{"/", false}, {"/static/hub.css", false}, {"/status", false}, {"/status/ada", false}, {"/api/v2/summary.json", false},
		{"/api/admin/incidents", false}, {"/badge/ada.svg", false}, {"/chart/ada/go.svg", false}, {"/history.atom", false},
		{"/ada/qr.svg", false}, {"/ada/go/qr.png", false}, {"/healthz", false}, {"/readyz", false}, {"/readyz/storage", false},
		{"/ada/go/", false}, {"/Ada/go", false}, {"//go", false}, {"/ada/go/x", false},
	} {
		if got := f.reserved.hubPath(tt.path); got != tt.hub {
			t.Errorf("hubPath(%q) = %v, want %v", tt.path, got, tt.hub)
		}
	}
	// What is not the hub's fast path still reaches the hub when no route
	// has it: its 404 page and its redirects alike.
	for path, want := range map[string]int{"/ada/go/x": 404, "/Ada/go": 404, "/": 200, "/static/hub.css": 200} {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}
}

// A route the hub's paths could shadow is refused when the table is
// built, and a literal segment under a page reserves a link slug.
func TestDeriveRefusesRoutesHubPathsShadow(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	for _, bad := range []string{"/{page}", "/{page}/", "/{page}/{link}", "/{page}/v{n}", "/x{n}"} {
		r := mux.NewRouter()
		r.Handle(bad, h)
		if _, err := derive(r); err == nil {
			t.Errorf("route %s accepted", bad)
		}
	}
	r := mux.NewRouter()
	for _, ok := range []string{"/feed", "/{page}/stats", "/{page}/qr.{ext:svg|png}", "/{page}/{link}/qr.svg", "/{page}.svg", "/robots.txt"} {
		r.Handle(ok, h)
	}
	s, err := derive(r)
	if err != nil {
		t.Fatal(err)
	}
	if !s.pages["feed"] || !s.links["stats"] || len(s.pages) != 1 || len(s.links) != 1 {
		t.Errorf("reserved pages %v, links %v; want feed and stats", s.pages, s.links)
	}
	if s.hubPath("/ada/stats") || !s.hubPath("/ada/go") {
		t.Error("a reserved link slug goes to the hub")
	}
}

type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

// BenchmarkFrontRedirect is the redirect through serve's handler chain:
// security headers, the front, the rate limit, the hub.
func BenchmarkFrontRedirect(b *testing.B) {
	hs := testHub(b)
	limiter := middleware.NewRateLimiter(1e9, 1e9, 64)
	h := middleware.SecurityHeaders(New(Handlers{Hub: hs, Admin: new(admin.API), Status: new(statuspage.Server),
		Limit: func(next http.Handler) http.Handler { return limiter.Middleware(nil, hs.IsSelfCheck, next) }}))
	req := httptest.NewRequest("GET", "http://hub.test/ada/go", nil)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// BenchmarkRouterRedirect is the same redirect through the router's
// pattern matching: what the front's fast path saves.
func BenchmarkRouterRedirect(b *testing.B) {
	hs := testHub(b)
	limiter := middleware.NewRateLimiter(1e9, 1e9, 64)
	f := New(Handlers{Hub: hs, Admin: new(admin.API), Status: new(statuspage.Server),
		Limit: func(next http.Handler) http.Handler { return limiter.Middleware(nil, hs.IsSelfCheck, next) }}).(*front)
	h := middleware.SecurityHeaders(f.limited)
	req := httptest.NewRequest("GET", "http://hub.test/ada/go", nil)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}
