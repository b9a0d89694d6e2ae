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

// PeriodicJobs schedules the coarse storage jobs: rollups every minute,
// and retention at once and then every pruneEvery. A job still running
// when it is due again is skipped, and a panic in one is logged instead
// of killing the process. Each run is bounded and ends with ctx: a job
// cut short at shutdown is rolled back and done again at the next start.
// One replica runs them: the holder of the jobs lock
// (shard.RunWhileHolding).
func PeriodicJobs(ctx context.Context, db JobStore, keep Retention, log *slog.Logger) *cron.Cron {
	logger := cronLogger{log}
	c := cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)), cron.WithLogger(logger))
	add := func(when cron.Schedule, name string, fn func(context.Context) error) {
		fails := &errlog.Reporter{Log: log, Msg: "periodic job failed", Attrs: []any{"job", name}}
		c.Schedule(when, cron.FuncJob(func() {
			jobCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			start := time.Now()
			err := fn(jobCtx)
			fails.Report(ctx, err) // cut short by shutdown is not a failure
			if err == nil {
				log.Debug("periodic job done", "job", name, "took", time.Since(start))
			}
		}))
	}
	add(cron.Every(time.Minute), "rollup", db.RollUp)
	add(&atOnceThenEvery{every: pruneEvery}, "retention", func(ctx context.Context) error {
		n, err := db.Prune(ctx, keep)
		if n > 0 {
			log.Info("retention pruned rows", "rows", n)
		}
		return err
	})
	return c
}

// pruneEvery is how often retention runs: raw results are kept at most
// this much past their window (rollups go a whole UTC day at a time, see
// DB.Prune). It is short, and retention also
// runs when a replica takes the jobs over, because an hourly run counted
// from each process's start never came for replicas restarted more often
// than hourly (a deploy every 50 minutes kept every row).
const pruneEvery = 10 * time.Minute

// atOnceThenEvery is a cron schedule that is due when the cron starts and
// then every interval. Only the cron's own goroutine calls Next.
type atOnceThenEvery struct {
	every   time.Duration
	started bool
}

func (s *atOnceThenEvery) Next(t time.Time) time.Time {
	if !s.started {
		s.started = true
		return t
	}
	return t.Add(s.every)
}

// cronLogger sends robfig/cron's log lines to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
