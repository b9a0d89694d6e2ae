package hub

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"linkwatch"
)

//go:embed assets
var assets embed.FS

var (
	templates = template.Must(template.New("").Funcs(template.FuncMap{"initial": initial}).ParseFS(assets, "assets/*.html"))
	styleCSS  = mustRead("assets/hub.css")
	// styleVersion busts caches when the stylesheet changes, so it can be
	// cached for a long time.
	styleVersion = func() string { s := sha256.Sum256(styleCSS); return hex.EncodeToString(s[:4]) }()
)

// initial is the first letter of a title, for the page's avatar.
func initial(s string) string {
	for _, r := range s {
		return strings.ToUpper(string(r))
	}
	return "•"
}

func mustRead(name string) []byte {
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		panic(err)
	}
	return b
}

// Server answers the public hub: the index, each page, each short link's
// redirect, and the stylesheet. It reads only the in-memory catalog and
// link health.
type Server struct {
	catalog   atomic.Pointer[Catalog]
	health    atomic.Pointer[Health] // nil until the incident engine publishes one: every link healthy
	log       *slog.Logger
	selfToken string
	redirects redirectStats
}

// NewServer returns a Server serving c.
func NewServer(c *Catalog, log *slog.Logger) *Server {
	s := &Server{log: log}
	s.catalog.Store(c)
	return s
}

// SetSelfCheckToken sets the value the prober sends in SelfCheckHeader. With
// a token, only requests carrying it are self-checks; a client setting the
// header to anything else is counted like any visitor. Without one, the
// header's presence is enough.
func (s *Server) SetSelfCheckToken(token string) { s.selfToken = token }

// IsSelfCheck reports whether r is the prober's own request.
func (s *Server) IsSelfCheck(r *http.Request) bool {
	// Indexed by its canonical name, as the server stores a request's
	// headers: Get would canonicalize the name again on every request.
	var v string
	if vs := r.Header[SelfCheckHeader]; len(vs) > 0 {
		v = vs[0]
	}
	if s.selfToken == "" {
		return v != ""
	}
	return subtle.ConstantTimeCompare([]byte(v), []byte(s.selfToken)) == 1
}

// SetCatalog swaps in a new catalog; requests in flight finish on the old one.
func (s *Server) SetCatalog(c *Catalog) { s.catalog.Store(c) }

// Catalog returns the catalog being served.
func (s *Server) Catalog() *Catalog { return s.catalog.Load() }

// ObserveHealth swaps in the links' health, as the incident engine
// publishes it (incidents.HealthObserver); the next redirect and page
// follow it.
func (s *Server) ObserveHealth(h linkwatch.Health) { s.health.Store(newHealth(h)) }

// route is what a request path names.
type route struct {
	kind routeKind
	page string
	link string
}

type routeKind int

const (
	routeNotFound routeKind = iota
	routeIndex
	routeStyle
	routePage
	routeLink
)

// StylePath is where the hub's stylesheet is served (the route table
// registers it; the pages link to it).
const StylePath = "/static/hub.css"

// parsePath maps a URL path to a route without allocating on the redirect
// path: /, /static/hub.css, /{page}, /{page}/ and /{page}/{link}.
func parsePath(p string) route {
	switch p {
	case "/":
		return route{kind: routeIndex}
	case StylePath:
		return route{kind: routeStyle}
	}
	if len(p) < 2 || p[0] != '/' {
		return route{}
	}
	rest := p[1:]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return route{kind: routePage, page: rest}
	}
	page, link := rest[:i], rest[i+1:]
	if page == "" {
		return route{}
	}
	if link == "" {
		return route{kind: routePage, page: page}
	}
	if strings.IndexByte(link, '/') >= 0 {
		return route{}
	}
	return route{kind: routeLink, page: page, link: link}
}

// ServeHTTP dispatches on the path. It is the catch-all handler: the server's
// own endpoints are routed before it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rt := parsePath(r.URL.Path)
	c := s.catalog.Load()
	switch rt.kind {
	case routeIndex:
		s.render(w, r, http.StatusOK, "index.html", indexView{Pages: c.Pages(), Style: styleVersion})
		return
	case routeStyle:
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(styleCSS)
		return
	case routePage:
		if p, ok := c.Page(rt.page); ok {
			s.render(w, r, http.StatusOK, "page.html", newPageView(p, s.health.Load()))
			return
		}
	case routeLink:
		s.serveLink(w, r, c, rt)
		return
	}
	s.NotFound(w, r)
}

// SelfCheckHeader marks the prober's own requests for a short link, which
// must not count as clicks. It is written in canonical form: IsSelfCheck
// indexes the request's headers by it.
const SelfCheckHeader = "X-Linkwatch-Self-Check"

// The values of a redirect's constant headers, shared by every answer
// (each of length and capacity one, so a later Add copies rather than
// writes into them).
var (
	noStore        = []string{"no-store"}
	referrerPolicy = []string{"strict-origin-when-cross-origin"}
)

// redirect answers 302, never 301: browsers cache a 301 for good, and a link
// hub must be able to change where a link points. A visitor's GET is a
// click; the prober's self-checks are not.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, l *Link, visitor bool) RedirectOutcome {
	_, diverted := s.health.Load().divertedTo(l)
	outcome, cell, location := RedirectDestination, l.clicks, l.location
	if diverted {
		outcome, cell, location = RedirectFallback, l.fallbackClicks, l.fallbackLocation
	}
	// Canonical names and values made once, assigned rather than Set:
	// Set canonicalizes each name and allocates each value on every
	// request, about half of the redirect's CPU in serve's handler chain
	// (BENCHMARKS.md).
	h := w.Header()
	h["Location"] = location
	h["Cache-Control"] = noStore
	h["Referrer-Policy"] = referrerPolicy
	w.WriteHeader(http.StatusFound)
	if visitor && r.Method == http.MethodGet {
		l.counter.click(cell)
	}
	return outcome
}

// NotFound renders the 404 page.
func (s *Server) NotFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "notfound.html", notFoundView{Path: r.URL.Path, Style: styleVersion})
}

type indexView struct {
	Pages []*Page
	Style string
}

type pageView struct {
	Page  *Page
	Links []linkView
	Style string
}

// linkView is a link's button: Unavailable adds the note that its
// destination may be unavailable, so the page tells the truth without
// JavaScript.
type linkView struct {
	*Link
	Unavailable bool
}

func newPageView(p *Page, h *Health) pageView {
	v := pageView{Page: p, Links: make([]linkView, len(p.Links)), Style: styleVersion}
	for i, l := range p.Links {
		v.Links[i] = linkView{Link: l, Unavailable: h.mayBeUnavailable(l)}
	}
	return v
}

type notFoundView struct {
	Path  string
	Style string
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	// Render to a buffer first so a template error becomes a clean 500, not
	// half a page.
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=30")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// HasPage reports whether the catalog being served (as the last reload
// left it) has the page: what the admin API checks subscription filters
// and maintenance windows against (linkwatch.Catalog).
func (s *Server) HasPage(slug string) bool {
	_, ok := s.Catalog().Page(slug)
	return ok
}

// HasLink reports whether the catalog being served has the page's link.
func (s *Server) HasLink(page, link string) bool {
	p, ok := s.Catalog().Page(page)
	if ok {
		_, ok = p.Link(link)
	}
	return ok
}
