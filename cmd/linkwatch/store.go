package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"linkwatch/backoff"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/cmd/linkwatch/web"
	"linkwatch/storage"
	"linkwatch/storage/postgres"
	"linkwatch/storage/sqlite"
)

// storeBackoff is the wait between attempts to reach PostgreSQL at start:
// 1 s doubling to 30 s.
var storeBackoff = backoff.Doubling(time.Second, 30*time.Second)

// openStore opens the configured database and says where it is, for the
// log (a file path or a host, never a DSN). SQLite is a file: it opens or
// fails at once. PostgreSQL is a server that may not answer yet (a pod
// started before its database, a failover, a password not yet rotated
// in): the connection is retried with backoff until it answers or ctx
// ends, each failure logged with the host, while ln answers /healthz (the
// process is alive) and /readyz with 503 (it is not ready).
func openStore(ctx context.Context, cfg config.StorageConfig, ln net.Listener, log *slog.Logger) (storage.Store, string, error) {
	if cfg.Driver != config.DriverPostgres {
		db, err := sqlite.Open(ctx, cfg.Path)
		return db, cfg.Path, err
	}
	pcfg, err := postgres.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, "", err
	}
	where := "postgres " + net.JoinHostPort(pcfg.ConnConfig.Host, fmt.Sprint(pcfg.ConnConfig.Port))
	wait := &waiting{}
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for failures := 1; ; failures++ {
		// Each attempt has its own deadline, so a host that drops packets
		// is an error to log and retry, not a hang.
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		db, err := postgres.Open(actx, cfg.DSN)
		cancel()
		if err == nil {
			return db, where, nil
		}
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("storage: %w", errors.Join(ctx.Err(), err))
		}
		wait.set(err)
		delay := storeBackoff.Delay(failures)
		log.Warn("database not ready; retrying", "storage", where, "err", err, "retry_in", delay)
		if stop == nil {
			stop = serveWhileWaiting(ln, wait, log)
		}
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("storage: gave up waiting for %s: %w", where, errors.Join(ctx.Err(), err))
		case <-time.After(delay):
		}
	}
}

// waiting is the readiness of a process still waiting for its database.
type waiting struct {
	mu  sync.Mutex
	err error
}

func (w *waiting) set(err error) { w.mu.Lock(); w.err = err; w.mu.Unlock() }

// Ready is never nil: the database has not answered yet.
func (w *waiting) Ready(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Errorf("waiting for the database: %w", w.err)
}

// serveWhileWaiting answers health probes on ln until stop is called, and
// 503 to everything else. stop hands ln back open, for the real server.
func serveWhileWaiting(ln net.Listener, ready web.Readier, log *slog.Logger) (stop func()) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return func() {}
	}
	srv := web.NewServer(web.Starting(web.Health{Ready: ready, Timeout: readyTimeout}), log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(handoffListener{tl})
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		_ = tl.SetDeadline(time.Time{})
	}
}

// handoffListener is a listener the waiting server can "close" without
// closing it: Close makes the pending Accept return (a deadline in the
// past), and the socket stays open for the server that follows, so no
// connection is refused in between.
type handoffListener struct{ *net.TCPListener }

func (l handoffListener) Close() error { return l.SetDeadline(time.Unix(1, 0)) }
