package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"linkwatch/alerting"
	"linkwatch/checker/schedule"
)

// heartbeat tells Sentry Crons, once a minute, whether the prober is alive:
// ok only if checks ran in the last minute with a p99 lag under a second.
// Sentry has no sub-minute monitors, so a dead prober is noticed within a
// minute or two, by Sentry, even when linkwatch itself cannot say so.
type heartbeat struct {
	sentry *alerting.Sentry
	sched  *schedule.Scheduler
	log    *slog.Logger
	last   int64 // checks started at the previous beat
}

// start checks in as soon as linkwatch runs: the prober is starting.
func (h *heartbeat) start(ctx context.Context) {
	if err := h.sentry.Heartbeat(ctx, true, "linkwatch started"); err != nil && ctx.Err() == nil {
		h.log.Warn("sentry heartbeat", "err", err)
	}
}

func (h *heartbeat) beat(ctx context.Context) {
	st := h.sched.Stats()
	ok := st.Checks > h.last && st.LagP99 < time.Second
	detail := fmt.Sprintf("%d checks in the last minute, p99 lag %s", st.Checks-h.last, st.LagP99)
	h.last = st.Checks
	if err := h.sentry.Heartbeat(ctx, ok, detail); err != nil && ctx.Err() == nil {
		h.log.Warn("sentry heartbeat", "err", err)
	}
}

// run checks in at once (a restart leaves no gap in Sentry Crons), then
// once a minute until ctx ends.
func (h *heartbeat) run(ctx context.Context) error {
	h.start(ctx)
	every(ctx, time.Minute, func() { h.beat(ctx) })
	return nil
}
