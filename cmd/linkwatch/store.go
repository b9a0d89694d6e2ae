package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"linkwatch/backoff"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/storage"
	"linkwatch/storage/postgres"
	"linkwatch/storage/sqlite"
)

// storeBackoff is the wait between attempts to reach PostgreSQL at start:
// 1 s doubling to 30 s.
var storeBackoff = backoff.Doubling(time.Second, 30*time.Second)

// openStore opens the configured database and says where it is, for the
// log and the alerts (a file path or a host, never a DSN), with reach,
// which makes it usable. SQLite is a file: it opens (and migrates) or
// fails at once, and reach is nil. PostgreSQL is a server that may not answer yet
// (a pod started before its database, an outage, a failover, a password
// not yet rotated in): its database is returned unreached, every query
// failing until the server answers, and reach connects and migrates.
// local is this process's clock (storage.DB.Local).
func openStore(ctx context.Context, cfg config.StorageConfig, local func() time.Time) (db storage.Store, where string, reach func(context.Context) error, err error) {
	if cfg.Driver != config.DriverPostgres {
		db, err := sqlite.Open(ctx, cfg.Path)
		if err != nil {
			return nil, "", nil, err
		}
		db.Local = local
		return db, "sqlite " + cfg.Path, nil, nil
	}
	pdb, err := postgres.New(cfg.DSN)
	if err != nil {
		return nil, "", nil, err
	}
	pdb.Local = local
	return pdb, "postgres " + pdb.Host(), pdb.Migrate, nil
}

// untilDone runs step until it succeeds, waiting storeBackoff between
// attempts, each bounded so that a host which drops packets is an error
// to log and retry, not a hang. Each failure is logged with where the
// database is and the server's reason (a refused connection, a wrong
// password, a missing database). It fails only when ctx ends.
func untilDone(ctx context.Context, step func(context.Context) error, where string, log *slog.Logger) error {
	for failures := 1; ; failures++ {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := step(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("storage: %w", errors.Join(ctx.Err(), err))
		}
		delay := storeBackoff.Delay(failures)
		log.Warn("database not ready; retrying", "storage", where, "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("storage: gave up waiting for %s: %w", where, errors.Join(ctx.Err(), err))
		case <-time.After(delay):
		}
	}
}
