package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"linkwatch/storage"
)

// newPeriodicJobs schedules the coarse storage jobs: rollups every minute
// and retention every hour. A job still running when it is due again is
// skipped, and a panic in one is logged instead of killing the process.
func newPeriodicJobs(db storage.Store, keep storage.Retention, log *slog.Logger) *cron.Cron {
	logger := cronLogger{log}
	c := cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))
	add := func(spec, name string, fn func(context.Context) error) {
		if _, err := c.AddFunc(spec, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			start := time.Now()
			if err := fn(ctx); err != nil {
				log.Error("periodic job failed", "job", name, "err", err)
				return
			}
			log.Debug("periodic job done", "job", name, "took", time.Since(start))
		}); err != nil {
			panic(err) // the specs are constants
		}
	}
	add("@every 1m", "rollup", db.RollUp)
	add("@every 1h", "retention", func(ctx context.Context) error {
		n, err := db.Prune(ctx, keep)
		if n > 0 {
			log.Info("retention pruned rows", "rows", n)
		}
		return err
	})
	return c
}

// cronLogger sends robfig/cron's log lines to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
