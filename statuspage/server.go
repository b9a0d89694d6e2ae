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

	mu    sync.Mutex                 // guards snaps and building
	snaps map[string]*cachedSnapshot // by scope: "" for every page, or a page slug
	// building is closed when the rebuild under way ends; nil while none
	// is. One rebuild at a time, so a burst of requests builds once.
	// buildingFor is its scope.
	building    chan struct{}
	buildingFor string
	// buildWait is how long a visitor waits for a rebuild (buildWait by
	// default; tests shorten it).
	buildWait time.Duration
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
	// stale is snap as served while rebuilds fail or are late (its page
	// says "as of"), nil while they do not; failedAt is the last failure.
	stale    *Snapshot
	failedAt time.Time
}

// markStale makes the last snapshot serve as stale (its page says as of
// when), if it does not already.
func (c *cachedSnapshot) markStale() {
	if c.snap != nil && c.stale == nil {
		c.stale = c.snap.staleCopy()
	}
}

// served is what c has to show: the stale copy while rebuilds fail, else
// the last snapshot (nil if none was ever built).
func (c *cachedSnapshot) served() *Snapshot {
	if c.stale != nil {
		return c.stale
	}
	return c.snap
}

// buildWait is how long a visitor waits for a rebuild: a database that
// drops packets must not hold the status page longer than this. The
// rebuild goes on without the visitor, who is shown the last state, as
// of when it was read (or, with none, a 503).
const buildWait = 5 * time.Second

// buildLimit bounds a rebuild itself. A rebuild slower than buildWait (a
// page of thousands of links on a loaded machine, a database slow but
// answering) is not thrown away, which would make every rebuild of that
// page fail the same way, and the page never shown: it finishes, and
// serves the visitors after it.
const buildLimit = time.Minute

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
	return &Server{src: src, opts: opts, now: opts.Now, started: opts.Now().UTC(), snaps: map[string]*cachedSnapshot{}, buildWait: buildWait, charts: map[string]cachedChart{},
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
//
// One rebuild at a time. A visitor with something to be shown does not
// wait for another's rebuild, slow or failing: the last snapshot serves
// meanwhile. A visitor waits at most buildWait in all, for the rebuild it
// began or, with nothing to be shown, for the one under way (then its
// own), then is shown the last snapshot as of when it was read, while
// the rebuild goes on (buildLimit).
func (s *Server) snapshot(ctx context.Context, scope string) (*Snapshot, error) {
	var wait <-chan time.Time // started at the first wait: a cached page needs no timer
	for {
		snap, done := s.cached(scope)
		if done {
			return orNoSnapshot(snap)
		}
		s.mu.Lock()
		running, ours, mine := s.building, s.buildingFor == scope, false
		if running == nil {
			running, ours, mine = make(chan struct{}), true, true
			s.building, s.buildingFor = running, scope
			go s.rebuild(context.WithoutCancel(ctx), scope, running)
		}
		s.mu.Unlock()
		if !mine && snap != nil {
			return snap, nil
		}
		if wait == nil {
			t := time.NewTimer(s.buildWait)
			defer t.Stop()
			wait = t.C
		}
		select {
		case <-running:
			if ours {
				// What this scope's rebuild made (or, failed, left), even
				// if it took longer than CacheFor: not another rebuild.
				return orNoSnapshot(s.shown(scope))
			}
			// Another scope's rebuild ended: look again.
		case <-wait:
			return orNoSnapshot(s.late(scope))
		case <-ctx.Done(): // the visitor left: the rebuild is not late for that
			return orNoSnapshot(s.shown(scope))
		}
	}
}

func orNoSnapshot(snap *Snapshot) (*Snapshot, error) {
	if snap == nil {
		return nil, errNoSnapshot
	}
	return snap, nil
}

// shown is what scope has to show now (see cachedSnapshot.served).
func (s *Server) shown(scope string) *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.snaps[scope]; c != nil {
		return c.served()
	}
	return nil
}

// late is what scope shows while its rebuild takes longer than buildWait:
// the last snapshot, marked stale (its page says as of when), until the
// rebuild ends.
func (s *Server) late(scope string) *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.snaps[scope]
	if c == nil {
		return nil
	}
	c.markStale()
	return c.served()
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

// rebuild builds scope's snapshot and keeps it, or, if it fails, marks
// the last one stale; then it closes done, the rebuild under way.
func (s *Server) rebuild(ctx context.Context, scope string, done chan struct{}) {
	defer close(done)
	now := s.now()
	bctx, cancel := context.WithTimeout(ctx, buildLimit)
	snap, err := build(bctx, s.src, s.opts.Catalog(), s.opts.Interval, s.opts.SelfCheck, now.UTC(), scope)
	cancel()
	s.rebuilds.Report(ctx, err, "scope", scope)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.building = nil
	c := s.snaps[scope]
	if c == nil {
		c = &cachedSnapshot{}
		s.snaps[scope] = c
	}
	if err != nil {
		c.failedAt = now
		c.markStale()
		return
	}
	// Pages removed by a reload leave their entries: drop them, so the
	// cache holds at most one entry per live page.
	for k := range s.snaps {
		if k != "" && k != scope && !s.pageExists(k) {
			delete(s.snaps, k)
		}
	}
	*c = cachedSnapshot{snap: snap, at: now}
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
