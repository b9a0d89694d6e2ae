package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/storage"
)

const (
	clickFlushInterval = 5 * time.Second
	shutdownTimeout    = 10 * time.Second
	readyTimeout       = 2 * time.Second
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config)")
	addr := fs.String("addr", "", "listen address, overriding server.addr (e.g. 127.0.0.1:0)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

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
	catalog, err := hub.NewCatalog(cfg.catalogSpec(), counter)
	if err != nil {
		return fmt.Errorf("build catalog: %w", err)
	}
	hubServer := hub.NewServer(catalog, log)

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	srv := &http.Server{
		Handler:           newRouter(db, hubServer),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// Background jobs stop when jobsCtx is cancelled, after the server has
	// drained, so the last clicks of in-flight requests are flushed.
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	jobs.Go(func() { flushClicks(jobsCtx, counter, log) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("linkwatch serving", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL,
		"pages", len(cfg.Pages), "db", cfg.Storage.Path, "version", buildVersion())
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
	stopJobs()
	jobs.Wait()
	if err := counter.Flush(shutdownCtx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

// flushClicks writes counted clicks to storage until ctx ends.
func flushClicks(ctx context.Context, counter *hub.Counter, log *slog.Logger) {
	t := time.NewTicker(clickFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := counter.Flush(ctx); err != nil {
				log.Error("flush clicks", "err", err)
			}
		}
	}
}

// pinger is what readiness needs from storage.
type pinger interface {
	Ping(ctx context.Context) error
}

func newRouter(db pinger, hubServer *hub.Server) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := db.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "storage unavailable\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}).Methods(http.MethodGet, http.MethodHead)
	r.NotFoundHandler = hubServer
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return r
}
