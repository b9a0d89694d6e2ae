package shard

import (
	"context"
	"log/slog"
	"time"

	"linkwatch/errlog"
)

// LockStore is what the singleton jobs need from storage: a named lock
// one replica holds at a time.
type LockStore interface {
	HoldLock(ctx context.Context, name string) (bool, error)
	ReleaseLock(name string)
}

// RunWhileHolding runs start's jobs while this replica holds the named
// lock (a PostgreSQL session lock on a dedicated connection: a kill -9
// releases it), and stops them when the lock is lost. The replicas that
// do not hold it try again every retry, and the holder checks it still
// holds it as often: a killed holder's jobs resume on another replica
// within it. With SQLite, the process always holds it. It returns when
// ctx ends, the jobs stopped and the lock released.
func RunWhileHolding(ctx context.Context, db LockStore, name string, retry time.Duration, start func(ctx context.Context) (wait func()), log *slog.Logger) error {
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
		db.ReleaseLock(name)
	}()
	fails := &errlog.Reporter{Log: log, Msg: "singleton jobs: cannot check the lock; jobs stopped until it can", Attrs: []any{"lock", name}}
	for {
		held, err := db.HoldLock(ctx, name)
		fails.Report(ctx, err)
		switch {
		case held && stop == nil:
			log.Info("this replica runs the singleton jobs", "lock", name)
			jctx, cancel := context.WithCancel(ctx)
			wait := start(jctx)
			stop = func() { cancel(); wait() }
		case !held && stop != nil:
			log.Warn("singleton jobs: lock lost; another replica takes them over", "lock", name)
			stop()
			stop = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}
