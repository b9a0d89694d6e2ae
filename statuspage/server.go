package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
)

// Options configure the status page.
type Options struct {
	Name      string        // shown as the page title (default "Link status")
	URL       string        // the hub's public URL, without a trailing slash
	Interval  time.Duration // the probe interval, to turn check counts into minutes (default linkwatch.DefaultInterval)
	SelfCheck bool          // whether hub redirects are probed
	CacheFor  time.Duration // how long a computed page is reused (default 5s)
	Catalog   func() *hub.Catalog
	Log       *slog.Logger
	Now       func() time.Time // the clock (default time.Now)
}

// Server serves the status page, its API, feed, badges and QR codes.
type Server struct {
	src     Source
	opts    Options
	now     func() time.Time
	started time.Time

	mu    sync.Mutex                // serialises rebuilds, so a burst of requests builds once
	snaps map[string]cachedSnapshot // by scope: "" for every page, or a page slug

	chartMu sync.Mutex             // serialises chart reads; taken before mu, never after
	charts  map[string]cachedChart // by "page/link/range"
}

type cachedSnapshot struct {
	snap *Snapshot
	at   time.Time
}

// New returns a status page server.
func New(src Source, opts Options) *Server {
	if opts.Name == "" {
		opts.Name = "Link status"
	}
	if opts.CacheFor <= 0 {
		opts.CacheFor = 5 * time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = linkwatch.DefaultInterval
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{src: src, opts: opts, now: opts.Now, started: opts.Now().UTC(), snaps: map[string]cachedSnapshot{}, charts: map[string]cachedChart{}}
}

// Register adds the public routes to r. They must be registered before the
// hub's catch-all.
func (s *Server) Register(r *mux.Router) {
	get := func(path string, h http.HandlerFunc) {
		r.HandleFunc(path, h).Methods(http.MethodGet, http.MethodHead)
	}
	get("/status", s.serveHTML)
	get("/status/", s.serveHTML)
	get("/status/static/status.css", s.serveCSS)
	get("/status/feed.atom", s.serveAtom)
	get("/history.atom", s.serveAtom)
	get("/status/feed.rss", s.serveRSS)
	get("/history.rss", s.serveRSS)
	get("/status/{page}", s.serveHTML)
	get("/status/{page}/", s.serveHTML) // as typed, or as a relative link resolves it
	// The API at /api/v2 (where clients of a whole Statuspage look), at
	// /status/api/v2 and, for one page, at /status/{page}/api/v2: a widget
	// given .../status as its page links visitors there, not to the index.
	for _, ep := range apiEndpoints {
		h := s.apiHandler(ep)
		get("/api/v2/"+ep+".json", h)
		get("/status/api/v2/"+ep+".json", h)
		get("/status/{page}/api/v2/"+ep+".json", h)
	}
	get("/badge/{page}.svg", s.serveBadge)
	get("/badge/{page}/{link}.svg", s.serveBadge)
	get("/chart/{page}/{link}.svg", s.serveChart)
	get("/{page}/qr.{ext:svg|png}", s.serveQR)
	get("/{page}/{link}/qr.{ext:svg|png}", s.serveQR)
	// API clients parse what they get: an unknown endpoint is a JSON 404,
	// not the hub's HTML page.
	for _, prefix := range []string{"/api/v2/", "/status/api/", "/status/{page}/api/"} {
		r.PathPrefix(prefix).Methods(http.MethodGet, http.MethodHead).HandlerFunc(s.apiNotFound)
	}
}

// snapshot returns the current state for scope ("" or a page slug), rebuilt
// at most every CacheFor. The caller has checked that the page exists.
func (s *Server) snapshot(ctx context.Context, scope string) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c, ok := s.snaps[scope]; ok && now.Sub(c.at) < s.opts.CacheFor {
		return c.snap, nil
	}
	snap, err := build(ctx, s.src, s.opts.Catalog(), s.opts.Interval, s.opts.SelfCheck, now.UTC(), scope)
	if err != nil {
		return nil, err
	}
	// Pages removed by a reload leave stale entries; drop what has expired
	// so the cache holds at most one snapshot per live page.
	for k, c := range s.snaps {
		if now.Sub(c.at) >= s.opts.CacheFor {
			delete(s.snaps, k)
		}
	}
	s.snaps[scope] = cachedSnapshot{snap: snap, at: now}
	return snap, nil
}

// pageExists reports whether slug names a page of the catalog being served.
func (s *Server) pageExists(slug string) bool {
	_, ok := s.opts.Catalog().Page(slug)
	return ok
}

func (s *Server) cacheHeaders(h http.Header) {
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.opts.CacheFor/time.Second)))
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, body any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(body); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	s.cacheHeaders(h)
	h.Set("Content-Type", "application/json; charset=utf-8")
	// Status widgets on other sites read this API from the browser.
	h.Set("Access-Control-Allow-Origin", "*")
	s.write(w, r, http.StatusOK, buf.Bytes())
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// fail answers 503: the status page cannot read its data. The cause is
// logged, not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.opts.Log.ErrorContext(r.Context(), "status page", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "5")
	http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
}
