package web

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"linkwatch/console"
	"linkwatch/hub"
	"linkwatch/incidents/admin"
	"linkwatch/statuspage"
)

// Handlers are what the server's routes answer with.
type Handlers struct {
	Hub   *hub.Server // the index, the stylesheet, and the catch-all: pages, short links, the 404 page
	Admin *admin.API
	// Console is the operator console under /admin.
	Console *console.Console
	Status  *statuspage.Server
	// Metrics serves the metrics to Prometheus, behind the admin token.
	Metrics http.Handler
	Health  Health
	// Limit wraps everything but the health probes (the rate limit); nil:
	// none.
	Limit func(http.Handler) http.Handler
}

// register is the route table: every path linkwatch serve answers is
// registered here, once. The hub's pages and short links (/{page},
// /{page}/{link}) are the router's catch-all; the slugs they may use, and
// the paths the front handler hands the hub directly, are derived from
// what is registered (see derive).
func register(r *mux.Router, h Handlers) {
	h.Health.register(r)
	r.Handle("/", h.Hub)
	r.Handle(hub.StylePath, h.Hub)
	h.Admin.Register(r)
	h.Console.Register(r)
	h.Status.Register(r)
	r.Handle("/metrics", h.Admin.Authenticate("/metrics", h.Metrics)).Methods(http.MethodGet, http.MethodHead)
	r.NotFoundHandler = h.Hub
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
}

// New returns the handler of linkwatch serve: the route table behind a
// front that hands the hub's pages and short links to it directly,
// skipping the router's pattern matching: the redirect is the hot path.
func New(h Handlers) http.Handler {
	r := mux.NewRouter()
	register(r, h)
	limit := h.Limit
	if limit == nil {
		limit = func(next http.Handler) http.Handler { return next }
	}
	f := &front{router: r, limited: limit(r), hub: limit(h.Hub), probes: map[string]bool{}, reserved: mustDerive(r)}
	for path := range h.Health.routes() {
		f.probes[path] = true
	}
	return f
}

// front sends hub paths straight to the hub, the orchestrator's probes
// to the router unlimited, and everything else to the router through the
// rate limit (its redirects to a cleaned path, 405s and 404s included).
type front struct {
	router, limited, hub http.Handler
	probes               map[string]bool
	reserved             slugs
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case f.reserved.hubPath(p):
		f.hub.ServeHTTP(w, r)
	case f.probes[p]:
		f.router.ServeHTTP(w, r)
	default:
		f.limited.ServeHTTP(w, r)
	}
}

// slugs are the page and link slugs the route table reserves: the
// literal first segments of its paths (/status, /chart, ...), and the
// literal second segments of paths that start with a page (none today:
// /{page}/qr.svg has a dot, which no slug has).
type slugs struct {
	pages, links map[string]bool
}

// hubPath reports whether p is /{page}, /{page}/ or /{page}/{link} with
// slugs the table does not reserve: the router would hand it to the hub
// too, as no route it has could match it.
func (s slugs) hubPath(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	page, link, _ := strings.Cut(p[1:], "/")
	if !hub.ValidSlug(page) || s.pages[page] {
		return false
	}
	return link == "" || hub.ValidSlug(link) && !s.links[link]
}

// derive walks the router and returns the slugs its routes reserve. A
// route that could match a hub path without reserving a slug (a variable
// first segment alone, or followed by a segment that could be a link's
// slug without being a literal) is an error: the front handler would send
// its requests to the hub. Path prefixes are taken as their template.
func derive(r *mux.Router) (slugs, error) {
	s := slugs{pages: map[string]bool{}, links: map[string]bool{}}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return nil // no path of its own: a subrouter's route
		}
		segs := strings.Split(strings.TrimPrefix(tpl, "/"), "/")
		first, second := segs[0], ""
		if len(segs) > 1 {
			second = segs[1]
		}
		switch {
		case !couldBeSlug(first): // the index, /history.atom, /{page}.svg: no page is named so
		case isLiteral(first):
			s.pages[first] = true
		case second == "":
			return fmt.Errorf("route %s matches every page", tpl)
		case !couldBeSlug(second): // /{page}/qr.{ext}: no link is named so
		case len(segs) > 2 && segs[2] != "": // deeper than any short link
		case isLiteral(second):
			s.links[second] = true
		default:
			return fmt.Errorf("route %s could match a short link: make its second segment a literal, or give it a dot", tpl)
		}
		return nil
	})
	return s, err
}

func mustDerive(r *mux.Router) slugs {
	s, err := derive(r)
	if err != nil {
		panic("web: the route table: " + err.Error())
	}
	return s
}

// isLiteral reports whether a path template's segment has no variable.
func isLiteral(seg string) bool { return !strings.Contains(seg, "{") }

// couldBeSlug reports whether a template segment could match a slug: with
// each {variable} standing for a slug's letter, its literal characters
// make one.
func couldBeSlug(seg string) bool {
	var b strings.Builder
	depth := 0
	for _, c := range seg {
		switch {
		case c == '{':
			if depth == 0 {
				b.WriteByte('a')
			}
			depth++
		case c == '}':
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	return hub.ValidSlug(b.String())
}

// inert is the route table over handlers that never serve: which paths
// exist does not depend on them.
func inert() *mux.Router {
	r := mux.NewRouter()
	register(r, Handlers{Hub: new(hub.Server), Admin: new(admin.API), Console: new(console.Console), Status: new(statuspage.Server)})
	return r
}

// reserved is what the table reserves, derived once from the inert
// table. Config validation reads it through ReservedPageSlug and
// ReservedLinkSlug, so `linkwatch validate` refuses what serve would
// shadow.
var reserved = sync.OnceValue(func() slugs { return mustDerive(inert()) })

// ReservedPageSlug reports, with the reason, whether s is a first path
// segment the server answers itself, which no page may use.
func ReservedPageSlug(s string) error {
	if reserved().pages[s] {
		return fmt.Errorf("%q is reserved: linkwatch serves /%s itself", s, s)
	}
	return nil
}

// ReservedLinkSlug reports, with the reason, whether s is a second path
// segment the server answers under every page, which no link may use.
func ReservedLinkSlug(s string) error {
	if reserved().links[s] {
		return fmt.Errorf("%q is reserved: linkwatch serves /{page}/%s itself", s, s)
	}
	return nil
}

// Templates returns the path template of every route the table
// registers, in registration order: what the tests request through
// serve, so a route cannot be added without being tried.
func Templates() []string {
	var out []string
	_ = inert().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if tpl, err := route.GetPathTemplate(); err == nil {
			out = append(out, tpl)
		}
		return nil
	})
	return out
}
