package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"linkwatch/checker/schedule"
)

// Heartbeat tells Sentry Crons, once a minute, whether the prober is
// alive: ok only if checks ran in the last minute with a p99 lag under a
// second. Sentry has no sub-minute monitors, so a dead prober is noticed
// within a minute or two, by Sentry, even when linkwatch itself cannot
// say so.
type Heartbeat struct {
	sentry *Sentry
	stats  func() schedule.Stats
	log    *slog.Logger
	last   int64 // checks started at the previous beat
}

// NewHeartbeat returns the heartbeat of the prober whose statistics stats
// reads (the scheduler's Stats), counting from the checks made so far.
func NewHeartbeat(sentry *Sentry, stats func() schedule.Stats, log *slog.Logger) *Heartbeat {
	return &Heartbeat{sentry: sentry, stats: stats, log: log, last: stats().Checks}
}

// start checks in as soon as linkwatch runs: the prober is starting.
func (h *Heartbeat) start(ctx context.Context) {
	if err := h.sentry.Heartbeat(ctx, true, "linkwatch started"); err != nil && ctx.Err() == nil {
		h.log.Warn("sentry heartbeat", "err", err)
	}
}

func (h *Heartbeat) beat(ctx context.Context) {
	st := h.stats()
	ok := st.Checks > h.last && st.LagP99 < time.Second
	detail := fmt.Sprintf("%d checks in the last minute, p99 lag %s", st.Checks-h.last, st.LagP99)
	h.last = st.Checks
	if err := h.sentry.Heartbeat(ctx, ok, detail); err != nil && ctx.Err() == nil {
		h.log.Warn("sentry heartbeat", "err", err)
	}
}

// Run checks in at once (a restart leaves no gap in Sentry Crons), then
// once a minute until ctx ends.
func (h *Heartbeat) Run(ctx context.Context) error {
	h.start(ctx)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.beat(ctx)
		}
	}
}
