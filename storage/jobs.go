package storage

import (
	"context"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"linkwatch/errlog"
)

// JobStore is what the periodic jobs run on.
type JobStore interface {
	RollUp(ctx context.Context) error
	Prune(ctx context.Context, keep Retention) (int64, error)
}

// PeriodicJobs schedules the coarse storage jobs: rollups every minute
// and retention every hour. A job still running when it is due again is
// skipped, and a panic in one is logged instead of killing the process.
// Each run is bounded and ends with ctx: a job cut short at shutdown is
// rolled back and done again at the next start. One replica runs them:
// the holder of the jobs lock (shard.RunWhileHolding).
func PeriodicJobs(ctx context.Context, db JobStore, keep Retention, log *slog.Logger) *cron.Cron {
	logger := cronLogger{log}
	c := cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))
	add := func(spec, name string, fn func(context.Context) error) {
		fails := &errlog.Reporter{Log: log, Msg: "periodic job failed", Attrs: []any{"job", name}}
		if _, err := c.AddFunc(spec, func() {
			jobCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			start := time.Now()
			err := fn(jobCtx)
			fails.Report(ctx, err) // cut short by shutdown is not a failure
			if err == nil {
				log.Debug("periodic job done", "job", name, "took", time.Since(start))
			}
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
