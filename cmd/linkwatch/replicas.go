package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"linkwatch"
	"linkwatch/checker/shard"
	"linkwatch/errlog"
	"linkwatch/incidents"
)

// probeShare is the part of the targets this replica checks: every
// configured target (replaced on reload) filtered by the replicas' split
// (replaced when membership changes). Each change reaches the scheduler,
// which checks a target it gained at its stable offset (in the current
// interval when that is still ahead), and the engine, which forgets the targets given away and
// continues the incidents of those it gained.
type probeShare struct {
	sched  targetSetter
	engine ownershipSetter

	mu  sync.Mutex
	all []linkwatch.Target
	as  shard.Assignment
}

// targetSetter is the scheduler, as probeShare feeds it.
type targetSetter interface {
	SetTargets([]linkwatch.Target)
}

// ownershipSetter is the incident engine, as probeShare tells it what it owns.
type ownershipSetter interface {
	SetOwnership(owns func(target string) bool)
}

func newProbeShare(sched targetSetter, engine ownershipSetter, all []linkwatch.Target, as shard.Assignment) *probeShare {
	return &probeShare{sched: sched, engine: engine, all: all, as: as}
}

// owned returns the targets this replica checks now.
func (p *probeShare) owned() []linkwatch.Target {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.as.Filter(p.all)
}

// SetTargets takes a reloaded config's targets.
//
// The list is computed and handed on under p.mu, here and in
// setAssignment: a reload and a membership change arriving together
// would otherwise each compute a list and could hand them on in the
// other order, leaving the scheduler with a list from the old split (or
// the old config) until the next change.
func (p *probeShare) SetTargets(all []linkwatch.Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all = all
	p.sched.SetTargets(p.as.Filter(p.all))
}

// setAssignment takes a new split of the targets among the replicas.
func (p *probeShare) setAssignment(as shard.Assignment) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.as = as
	p.sched.SetTargets(p.as.Filter(p.all))
	p.engine.SetOwnership(as.OwnsID)
}

// jobsLockRetry is how often a replica tries to take the jobs lock, and
// the holder checks it still holds it: a killed holder's jobs resume on
// another replica within it.
const jobsLockRetry = 5 * time.Second

// lockStore is what the singleton jobs need from storage.
type lockStore interface {
	HoldLock(ctx context.Context, name string) (bool, error)
	ReleaseLock(name string)
}

// runWhileHolding runs start's jobs while this replica holds the named
// lock (a PostgreSQL session lock on a dedicated connection: a kill -9
// releases it), and stops them when the lock is lost. The replicas that
// do not hold it try again every retry. With SQLite, the process always
// holds it.
func runWhileHolding(ctx context.Context, db lockStore, name string, retry time.Duration, start func(ctx context.Context) (wait func()), log *slog.Logger) error {
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

// departedStore is what resolving departed replicas' incidents reads.
type departedStore interface {
	LiveMembers(ctx context.Context, since time.Time) ([]linkwatch.Member, error)
}

// resolveDeparted resolves the prober_offline and canary incidents of
// replicas no longer live ("replica left"): run by the jobs holder, its
// failures told to fails.
func resolveDeparted(ctx context.Context, db departedStore, engine *incidents.Engine, lease time.Duration, fails *errlog.Reporter, log *slog.Logger) {
	live, err := db.LiveMembers(ctx, time.Now().Add(-lease))
	if err != nil {
		fails.Report(ctx, err)
		return
	}
	ids := map[string]bool{}
	for _, m := range live {
		ids[m.ID] = true
	}
	n, err := engine.ResolveDeparted(ctx, func(r string) bool { return ids[r] })
	fails.Report(ctx, err)
	if n > 0 {
		log.Info("resolved the own incidents of replicas that left", "incidents", n)
	}
}
