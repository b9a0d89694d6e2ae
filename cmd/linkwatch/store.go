package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
// process is alive) and /readyz with 503 (it is not ready). local is this
// process's clock (storage.DB.Local).
func openStore(ctx context.Context, cfg config.StorageConfig, local func() time.Time, ln net.Listener, log *slog.Logger) (storage.Store, string, error) {
	if cfg.Driver != config.DriverPostgres {
		db, err := sqlite.Open(ctx, cfg.Path)
		if err != nil {
			return nil, "", err
		}
		db.Local = local
		return db, cfg.Path, nil
	}
	pcfg, err := postgres.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, "", err
	}
	where := "postgres " + net.JoinHostPort(pcfg.ConnConfig.Host, fmt.Sprint(pcfg.ConnConfig.Port))
	wait := &web.Waiting{}
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
			db.Local = local
			return db, where, nil
		}
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("storage: %w", errors.Join(ctx.Err(), err))
		}
		wait.Set(err)
		delay := storeBackoff.Delay(failures)
		log.Warn("database not ready; retrying", "storage", where, "err", err, "retry_in", delay)
		if stop == nil {
			stop = web.ServeWhileWaiting(ln, wait, readyTimeout, log)
		}
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("storage: gave up waiting for %s: %w", where, errors.Join(ctx.Err(), err))
		case <-time.After(delay):
		}
	}
}
