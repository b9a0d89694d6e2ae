package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/errlog"
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
	// Subscribe turns on the email subscription form; nil: off.
	Subscribe *SubscribeOptions
}

// DefaultName is the status page's title when none is given, in its
// mails too.
const DefaultName = "Link status"

// Server serves the status page, its API, feed, badges and QR codes.
type Server struct {
	src     Source
	opts    Options
	now     func() time.Time
	started time.Time

	building sync.Mutex                 // serialises rebuilds, so a burst of requests builds once; taken before mu
	mu       sync.Mutex                 // guards snaps
	snaps    map[string]*cachedSnapshot // by scope: "" for every page, or a page slug
	// rebuilds logs the failed rebuilds, once a minute at most: while the
	// database is out of reach, every page fails every CacheFor.
	rebuilds *errlog.Reporter

	chartMu sync.Mutex             // serialises chart reads; taken before mu, never after
	charts  map[string]cachedChart // by "page/link/range"
}

// cachedSnapshot is a scope's last snapshot, and how its rebuilds fare.
type cachedSnapshot struct {
	snap *Snapshot // the last one built; nil before the first
	at   time.Time // when it was built
	// stale is snap as served while rebuilds fail (its page says "as of"),
	// nil while they do not; failedAt is the last failure.
	stale    *Snapshot
	failedAt time.Time
}

// served is what c has to show: the stale copy while rebuilds fail, else
// the last snapshot (nil if none was ever built).
func (c *cachedSnapshot) served() *Snapshot {
	if c.stale != nil {
		return c.stale
	}
	return c.snap
}

// buildTimeout bounds a rebuild: a database that drops packets must not
// hold the status page longer than this.
const buildTimeout = 5 * time.Second

// errNoSnapshot is a status page that cannot be built and was never built
// before (a replica started while its database is out of reach): there is
// no last state to show.
var errNoSnapshot = errors.New("the status cannot be read yet")

// New returns a status page server.
func New(src Source, opts Options) *Server {
	if opts.Name == "" {
		opts.Name = DefaultName
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
	return &Server{src: src, opts: opts, now: opts.Now, started: opts.Now().UTC(), snaps: map[string]*cachedSnapshot{}, charts: map[string]cachedChart{},
		rebuilds: &errlog.Reporter{Log: opts.Log, Msg: "status page: cannot read the current state; serving the last one", Now: opts.Now}}
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
	s.registerSubscribe(r)
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
// When a rebuild fails (the database is out of reach), the last snapshot
// serves, marked stale so that its page says as of when; it is tried
// again after CacheFor. Without a last one, the error is errNoSnapshot.
func (s *Server) snapshot(ctx context.Context, scope string) (*Snapshot, error) {
	snap, done := s.cached(scope)
	if !done {
		// One rebuild at a time. A visitor with something to be shown
		// does not wait for another's rebuild, slow or failing: the last
		// snapshot serves meanwhile.
		if !s.building.TryLock() {
			if snap != nil {
				return snap, nil
			}
			s.building.Lock()
		}
		defer s.building.Unlock()
		if snap, done = s.cached(scope); !done { // not built while this one waited
			snap = s.rebuild(ctx, scope)
		}
	}
	if snap == nil {
		return nil, errNoSnapshot
	}
	return snap, nil
}

// cached returns what scope has to show without a rebuild, and whether
// that is the answer: a snapshot built within CacheFor, or what there is
// (perhaps nothing) when a rebuild failed within CacheFor.
func (s *Server) cached(scope string) (*Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.snaps[scope]
	if c == nil {
		return nil, false
	}
	now := s.now()
	if c.stale == nil && c.snap != nil && now.Sub(c.at) < s.opts.CacheFor {
		return c.snap, true
	}
	return c.served(), !c.failedAt.IsZero() && now.Sub(c.failedAt) < s.opts.CacheFor
}

// rebuild builds scope's snapshot and returns what to show: the new one,
// or, if it fails, the last one marked stale (nil without one). The
// caller holds s.building.
func (s *Server) rebuild(ctx context.Context, scope string) *Snapshot {
	now := s.now()
	// A visitor who leaves does not fail the rebuild for the others.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), buildTimeout)
	snap, err := build(bctx, s.src, s.opts.Catalog(), s.opts.Interval, s.opts.SelfCheck, now.UTC(), scope)
	cancel()
	s.rebuilds.Report(ctx, err, "scope", scope)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.snaps[scope]
	if c == nil {
		c = &cachedSnapshot{}
		s.snaps[scope] = c
	}
	if err != nil {
		c.failedAt = now
		if c.snap != nil && c.stale == nil {
			c.stale = c.snap.staleCopy()
		}
		return c.served()
	}
	// Pages removed by a reload leave their entries: drop them, so the
	// cache holds at most one entry per live page.
	for k := range s.snaps {
		if k != "" && k != scope && !s.pageExists(k) {
			delete(s.snaps, k)
		}
	}
	*c = cachedSnapshot{snap: snap, at: now}
	return snap
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
// logged, not shown (errNoSnapshot's was, when the rebuild failed).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, errNoSnapshot) {
		s.opts.Log.ErrorContext(r.Context(), "status page", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Retry-After", retryAfter)
	http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
}

// retryAfter is the Retry-After of every 503: a rebuild is tried again
// after CacheFor (5 s by default).
const retryAfter = "5"
