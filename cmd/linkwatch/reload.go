package main

import (
	"context"
	"log/slog"
	"os"

	"linkwatch/checker/shard"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
	"linkwatch/incidents"
)

// reloader applies a changed config's pages and links without a restart:
// the hub swaps in a new catalog, the scheduler its new targets, the
// incident engine its new dependency view. Server, storage, probe and alert
// settings apply at the next restart.
type reloader struct {
	path   string
	getenv func(string) string
	// selfCheckURL is where the prober reaches the hub (see
	// web.ServedURLs); empty with probe.self_check off.
	selfCheckURL string
	running      *config.Config
	counter      *hub.Counter
	hub          *hub.Server
	sched        shard.TargetSetter // the share of the targets this replica checks
	engine       *incidents.Engine
	log          *slog.Logger
}

// run reloads on every signal from hup until ctx ends. It is serve's last
// stage, the first stopped: a reload in progress gives up at shutdown.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			r.reload(ctx)
		}
	}
}

func (r *reloader) reload(ctx context.Context) {
	next, err := config.Load(ctx, r.path, r.getenv)
	if err != nil && ctx.Err() != nil {
		r.log.Info("config reload abandoned: shutting down", "err", err)
		return
	}
	if err != nil {
		r.log.Error("config reload failed; still serving the running config", "err", err)
		return
	}
	next.Server, next.Storage, next.Probe, next.Alerts = r.running.Server, r.running.Storage, r.running.Probe, r.running.Alerts
	catalog, err := hub.NewCatalog(next.CatalogSpec(), r.counter)
	if err != nil {
		r.log.Error("config reload failed; still serving the running config", "err", err)
		return
	}
	r.hub.SetCatalog(catalog)
	r.engine.SetDependencies(catalog.Dependencies())
	targets := catalog.Targets(r.selfCheckURL, next.Probe.Canary)
	r.sched.SetTargets(targets)
	r.log.Info("config reloaded: pages and links (other settings apply at restart)", "pages", len(next.Pages), "targets", len(targets))
}
