package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/mux"

	"linkwatch/alerting"
	"linkwatch/checker"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
	"linkwatch/hub/middleware"
	"linkwatch/incidents"
	"linkwatch/statuspage"
	"linkwatch/storage"
)

const (
	clickFlushInterval = 5 * time.Second
	shutdownTimeout    = 10 * time.Second
)

// readyTimeout bounds a /readyz answer; tests shorten it.
var readyTimeout = 2 * time.Second

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config)")
	addr := fs.String("addr", "", "listen address, overriding server.addr (e.g. 127.0.0.1:0)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(ctx, *path, getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	sentry, err := newSentry(cfg)
	if err != nil {
		return err
	}
	var logHandler slog.Handler = slog.NewTextHandler(stderr, nil)
	if sentry != nil {
		defer sentry.Close()
		logHandler = alerting.NewSentryLogHandler(logHandler, sentry) // our own errors reach Sentry too
	}
	log := slog.New(logHandler)

	// Listen first: the public URL, the self-checks and every link the
	// status page and alerts carry depend on the address really served
	// (-addr, or port 0).
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	defer ln.Close() // Serve closes it too; this covers a failed start
	var selfCheckURL, mismatch string
	cfg.Server.PublicURL, selfCheckURL, mismatch = servedURLs(cfg.Server.PublicURL, cfg.Server.PublicURLSet, ln.Addr())
	if mismatch != "" {
		log.Warn(mismatch, "public_url", cfg.Server.PublicURL, "served", ln.Addr().String(), "self_checks", selfCheckURL)
	}

	db, err := storage.Open(ctx, cfg.Storage.Path)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close storage", "err", err)
		}
	}()

	counter := hub.NewCounter(db)
	catalog, err := hub.NewCatalog(cfg.CatalogSpec(), counter)
	if err != nil {
		return fmt.Errorf("build catalog: %w", err)
	}
	hubServer := hub.NewServer(catalog, log)
	// A fresh token per process tells the hub and the rate limiter which
	// requests are our own self-checks.
	selfToken := rand.Text()
	hubServer.SetSelfCheckToken(selfToken)
	engine, err := incidents.NewEngine(ctx, incidents.Config{
		FailureThreshold: cfg.Probe.FailureThreshold,
		SuccessThreshold: cfg.Probe.SuccessThreshold,
		CanaryID:         canaryID(cfg),
		GroupInterval:    groupInterval(cfg),
	}, db, dependencies(catalog), log)
	if err != nil {
		return err
	}
	// The hub redirects to fallbacks and notes down links from the health
	// the engine publishes: memory only, on the redirect path.
	engine.SetHealthObserver(hubHealth{hubServer})

	sinks, err := newSinks(cfg, db, sentry)
	if err != nil {
		return err
	}
	metrics, err := newMetrics(cfg)
	if err != nil {
		return err
	}
	defer metrics.Close()

	channels := make([]string, 0, len(sinks))
	for _, s := range sinks {
		channels = append(channels, s.Name())
	}
	admin := incidents.NewAdmin(db, incidents.AdminOptions{Token: cfg.Server.AdminToken, Resolver: engine, Channels: channels, Log: log,
		Extra:      map[string]http.Handler{"/clicks": hub.NewClicksAPI(db, log)},
		PageExists: func(slug string) bool { _, ok := hubServer.Catalog().Page(slug); return ok }})
	router := newRouter(hubServer, admin, statuspage.New(statusSource{db}, statuspage.Options{
		URL: cfg.Server.PublicURL, Interval: time.Duration(cfg.Probe.Interval), SelfCheck: *cfg.Probe.SelfCheck,
		Catalog: hubServer.Catalog, Log: log,
	}))
	limiter := middleware.NewRateLimiter(cfg.Server.RateLimit.PerSecond, cfg.Server.RateLimit.Burst)
	ready := newReadiness(db, max(time.Duration(cfg.Probe.Interval), 10*time.Second))
	srv := newHTTPServer(middleware.SecurityHeaders(withHealth(ready, limiter.Middleware(cfg.Server.TrustedPrefixes(), hubServer.IsSelfCheck, hubFirst(hubServer, router)))), log)

	// Background work stops in order at shutdown, each stage after the one
	// feeding it: the HTTP server drains, the prober stops, the incident
	// engine handles the last results, the dispatcher stops (undelivered
	// alerts wait in the outbox), the result writer writes what is queued,
	// then the periodic jobs and the last click flush.
	bg := context.WithoutCancel(ctx)
	proberCtx, stopProber := context.WithCancel(bg)
	writerCtx, stopWriter := context.WithCancel(bg)
	jobsCtx, stopJobs := context.WithCancel(bg)
	var prober, writerDone, jobs sync.WaitGroup

	drops := &dropReport{log: log}
	writer := storage.NewResultWriter(db, 500, time.Second, drops.note)
	drops.dropped = writer.Dropped
	writerDone.Go(func() { writer.Run(writerCtx) })
	dispatcher := alerting.NewDispatcher(db, sinks, metrics, log)
	dispatchCtx, stopDispatch := context.WithCancel(bg)
	dispatchDone := make(chan struct{})
	go func() { dispatcher.Run(dispatchCtx); close(dispatchDone) }()

	// The engine runs on one goroutine; it drains this channel until the
	// prober has stopped and the channel is closed.
	engineIn := make(chan checker.Result, 4096)
	engineDone := make(chan struct{})
	go func() { engine.Run(context.WithoutCancel(ctx), engineIn); close(engineDone) }()

	targets := allTargets(cfg, catalog, selfCheckURL)
	sched := checker.NewScheduler(newChecker(cfg, selfToken), targets, checker.SchedulerOptions{
		Interval: time.Duration(cfg.Probe.Interval),
		Workers:  cfg.Probe.Workers,
		OnResult: func(r checker.Result) {
			metrics.Result(r)
			writer.Add(r)
			engineIn <- r
		},
		Log: log,
	})
	prober.Go(func() { sched.Run(proberCtx) })
	if sentry != nil {
		hb := &heartbeat{sentry: sentry, sched: sched, log: log, last: sched.Stats().Checks}
		jobs.Go(func() {
			// A check-in right at start: a restart leaves no gap in Sentry Crons.
			hb.start(jobsCtx)
			every(jobsCtx, time.Minute, func() { hb.beat(jobsCtx) })
		})
	}
	jobs.Go(func() { every(jobsCtx, time.Minute, drops.report) })
	if metrics != nil {
		rep := &reporter{metrics: metrics, sched: sched, db: db, counter: counter, dropped: writer.Dropped, log: log}
		jobs.Go(func() { every(jobsCtx, 10*time.Second, func() { rep.report(jobsCtx) }) })
	}
	periodic := newPeriodicJobs(db, storage.Retention{
		Raw:    time.Duration(cfg.Storage.Retention.Raw),
		Minute: time.Duration(cfg.Storage.Retention.MinuteRollups),
		Hour:   time.Duration(cfg.Storage.Retention.Rollups),
	}, log)
	periodic.Start()
	jobs.Go(func() {
		every(jobsCtx, clickFlushInterval, func() {
			if err := counter.Flush(jobsCtx); err != nil {
				log.Error("flush clicks", "err", err)
			}
		})
	})
	// SIGHUP reloads the pages and links from the config file.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloader := &reloader{ctx: ctx, path: *path, selfCheckURL: selfCheckURL, getenv: getenv, running: cfg, counter: counter, hub: hubServer, sched: sched, engine: engine, log: log}
	jobs.Go(func() {
		for {
			select {
			case <-jobsCtx.Done():
				return
			case <-hup:
				reloader.reload()
			}
		}
	})

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("linkwatch serving", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL,
		"pages", len(cfg.Pages), "targets", len(targets), "interval", time.Duration(cfg.Probe.Interval), "db", cfg.Storage.Path, "version", buildVersion())
	fmt.Fprintf(stdout, "linkwatch listening on http://%s\n", ln.Addr())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("http shutdown", "err", err)
	}
	stopProber()
	prober.Wait()
	close(engineIn)
	<-engineDone
	stopDispatch()
	<-dispatchDone
	stopWriter()
	writerDone.Wait()
	<-periodic.Stop().Done()
	stopJobs()
	jobs.Wait()
	if err := counter.Flush(shutdownCtx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

// servedURLs returns the public URL and the base self-checks use, given
// public_url (set says it came from the config) and the address served.
// Without public_url both are the served address (a wildcard host named
// localhost). With one that names this machine on another port, visitors
// may well reach us that way (a port mapping), but the prober cannot:
// self-checks go to the served address instead, so they raise no false hub
// incident, and mismatch says why, to be logged once.
func servedURLs(publicURL string, set bool, served net.Addr) (public, selfCheck, mismatch string) {
	host, port, err := net.SplitHostPort(served.String())
	if err != nil {
		return publicURL, publicURL, ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "localhost"
	}
	servedURL := "http://" + net.JoinHostPort(host, port)
	if !set {
		return servedURL, servedURL, ""
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return publicURL, publicURL, ""
	}
	pubPort := u.Port()
	if pubPort == "" {
		pubPort = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !isThisMachine(u.Hostname(), host) || pubPort == port {
		return publicURL, publicURL, ""
	}
	return publicURL, servedURL, "server.public_url names this machine on another port than the one served: links use public_url, self-checks go to the served address"
}

// isThisMachine reports whether host (from public_url) names this machine
// without a DNS lookup: localhost, a loopback or unspecified address, or
// the address served.
func isThisMachine(host, served string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") || host == served {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// reloader applies a changed config's pages and links without a restart:
// the hub swaps in a new catalog, the scheduler its new targets, the
// incident engine its new dependency view. Server, storage, probe and alert
// settings apply at the next restart.
type reloader struct {
	ctx    context.Context // ends at shutdown: a reload in progress gives up
	path   string
	getenv func(string) string
	// selfCheckURL is where the prober reaches the hub (see servedURLs).
	selfCheckURL string
	running      *config.Config
	counter      *hub.Counter
	hub          *hub.Server
	sched        *checker.Scheduler
	engine       *incidents.Engine
	log          *slog.Logger
}

func (r *reloader) reload() {
	next, err := config.Load(r.ctx, r.path, r.getenv)
	if err != nil {
		r.log.Error("config reload failed; still serving the running config", "err", err)
		return
	}
	next.Server, next.Storage, next.Probe, next.Alerts = r.running.Server, r.running.Storage, r.running.Probe, r.running.Alerts
	catalog, err := hub.NewCatalog(next.CatalogSpec(), r.counter)
	if err != nil {
		r.log.Error("config reload failed; still serving the running config", "err", err)
		return
	}
	r.hub.SetCatalog(catalog)
	r.engine.SetDependencies(dependencies(catalog))
	targets := allTargets(next, catalog, r.selfCheckURL)
	r.sched.SetTargets(targets)
	r.log.Info("config reloaded: pages and links (other settings apply at restart)", "pages", len(next.Pages), "targets", len(targets))
}

// groupInterval is alerts.group_interval for the engine, where 0 turns
// grouping off.
func groupInterval(cfg *config.Config) time.Duration {
	if g := time.Duration(*cfg.Alerts.GroupInterval); g > 0 {
		return g
	}
	return -1
}

func canaryID(cfg *config.Config) string {
	if t := canaryTargets(cfg); len(t) > 0 {
		return t[0].ID
	}
	return ""
}

// every runs fn each period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// readier says whether the service can do its work (/readyz).
type readier interface {
	Ready(ctx context.Context) error
}

// serverTimeouts bound how long a client may hold a connection: a slow or
// idle client cannot pin connections (slowloris). Tests shorten them.
var serverTimeouts = struct{ readHeader, read, write, idle time.Duration }{
	readHeader: 5 * time.Second, read: 15 * time.Second, write: 30 * time.Second, idle: 90 * time.Second,
}

// maxHeaderBytes bounds request headers; bodies are bounded where they are read.
const maxHeaderBytes = 64 << 10

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serverTimeouts.readHeader,
		ReadTimeout:       serverTimeouts.read,
		WriteTimeout:      serverTimeouts.write,
		IdleTimeout:       serverTimeouts.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// withHealth answers /healthz and /readyz ahead of everything else, so
// probes from the orchestrator are never rate limited.
func withHealth(ready readier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		case "/readyz":
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := ready.Ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "storage unavailable\n")
				return
			}
			_, _ = io.WriteString(w, "ok\n")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// hubFirst sends hub paths (pages, short links, the stylesheet) straight to
// the hub, skipping the router's pattern matching: the redirect is the hot
// path. Everything under the server's own prefixes goes to the router.
func hubFirst(hubServer, router http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isHubPath(r.URL.Path) {
			hubServer.ServeHTTP(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
}

// isHubPath reports whether p belongs to the hub rather than to the status
// page, its APIs, badges or QR codes.
func isHubPath(p string) bool {
	rest := strings.TrimPrefix(p, "/")
	first, _, _ := strings.Cut(rest, "/")
	switch first {
	case "status", "api", "badge", "history.atom", "history.rss":
		return false
	}
	return !strings.HasSuffix(p, "/qr.svg") && !strings.HasSuffix(p, "/qr.png")
}

func newRouter(hubServer *hub.Server, admin *incidents.Admin, status *statuspage.Server) http.Handler {
	r := mux.NewRouter()
	admin.Register(r)
	status.Register(r)
	r.NotFoundHandler = hubServer
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return r
}
