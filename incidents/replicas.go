package incidents

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"linkwatch"
)

// SetOwnership tells the engine which targets this replica checks, when
// the replicas' split changes: it forgets what it observed of targets
// given away (their new owner rebuilds their state from the database),
// and takes over the open incidents of targets moved here. Safe to call
// while the engine runs; the change happens on the engine's goroutine.
func (e *Engine) SetOwnership(owns func(target string) bool) {
	e.depsMu.Lock()
	e.owns = owns
	e.depsMu.Unlock()
	e.handOver.Store(true)
	select {
	case e.reconcile <- struct{}{}:
	default:
	}
}

// replicaNote names this replica in the title of its own prober_offline
// and canary incidents: on-call must know whose network it is.
func (e *Engine) replicaNote() string {
	if e.cfg.Replica == "" {
		return ""
	}
	return " (replica " + e.cfg.Replica + ")"
}

// owned reports whether this replica checks target.
func (e *Engine) owned(target string) bool {
	e.depsMu.RLock()
	defer e.depsMu.RUnlock()
	return e.owns == nil || e.owns(target)
}

// ownsIncident reports whether this replica decides about inc: it checks
// one of its targets. A replica's own prober_offline and canary incidents
// are its alone.
func (e *Engine) ownsIncident(inc *linkwatch.Incident) bool {
	if inc.Kind == linkwatch.KindProberOffline || inc.Kind == linkwatch.KindCanary {
		return inc.Key == e.proberKey || inc.Key == e.canaryKey
	}
	return slices.ContainsFunc(inc.Targets, e.owned)
}

// takeOver applies a new split: targets given away are forgotten, and the
// open incidents are read again so the targets moved here continue them.
func (e *Engine) takeOver(ctx context.Context) error {
	for id, ts := range e.targets {
		if !e.owned(id) {
			e.forget(id, ts)
		}
	}
	e.changed = true
	e.pending.Store(true) // a moved host's incidents may need resolving or relinking
	// The flapping history of the targets moved here, as their previous
	// owner recorded it since this engine started.
	recoveries, err := e.store.Recoveries(ctx, e.now().Add(-e.cfg.FlapWindow))
	if err != nil {
		return fmt.Errorf("incidents: load flapping history: %w", err)
	}
	for id, at := range recoveries {
		if e.owned(id) {
			e.target(id, "", "").resolves = at
		}
	}
	if err := e.continueRuns(ctx); err != nil {
		return err
	}
	return e.refresh(ctx, true)
}

// refresh makes the open incidents in memory what the store has: those it
// holds that another replica changed are replaced, those resolved
// elsewhere are dropped. With adopt, the incidents of the targets this
// replica checks are taken in (another replica opened them, or their host
// moved here), and those targets linked to them: one not seen since is
// assumed still failing (the next successes resolve it), and one whose
// recovery the store holds since the incident began has had it counted
// towards flapping (by the replica that saw it), so it is not counted again. Every other open
// incident is kept apart (others), for the hub's health only. Regional
// notes and other replicas' own prober_offline and canary incidents are
// left out.
//
// With regions (Config.Region), the regions' vote decides which incidents
// this engine holds (regions.go): the periodic refresh does not adopt, and
// at a hand-over a target is linked only if this region's recorded verdict
// says it fails (and it is not seen answering here since).
func (e *Engine) refresh(ctx context.Context, adopt bool) error {
	stored, err := e.store.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("incidents: load open incidents: %w", err)
	}
	if adopt && e.regions != nil {
		var targets []string
		for _, inc := range stored {
			if inc.Kind != linkwatch.KindRegional {
				targets = append(targets, slices.DeleteFunc(slices.Clone(inc.Targets), func(t string) bool { return !e.owned(t) })...)
			}
		}
		if err := e.regions.recall(ctx, targets); err != nil {
			return err
		}
	}
	byID := make(map[int64]linkwatch.Incident, len(stored))
	for _, inc := range stored {
		switch {
		case inc.Kind == linkwatch.KindRegional:
			continue
		case linkwatch.ReplicaOf(inc.Key) != "" && inc.Key != e.proberKey && inc.Key != e.canaryKey:
			continue // another replica's network
		case (inc.Kind == linkwatch.KindProberOffline || inc.Kind == linkwatch.KindCanary) && linkwatch.ReplicaOf(inc.Key) == "" && e.cfg.Replica != "":
			continue // left by a single process before replicas: not this replica's network
		}
		byID[inc.ID] = inc
	}
	for key, inc := range e.open {
		if _, ok := byID[inc.ID]; !ok {
			e.log.Info("incident resolved elsewhere", "incident", inc.ID, "key", key)
			e.drop(inc)
		}
	}
	mem := make(map[int64]*linkwatch.Incident, len(e.open))
	for _, inc := range e.open {
		mem[inc.ID] = inc
	}
	others := map[int64]*linkwatch.Incident{}
	for _, id := range sortedIDs(byID) {
		stored := byID[id]
		inc := mem[id]
		switch {
		case inc == nil && !(adopt && slices.ContainsFunc(stored.Targets, e.owned)):
			others[id] = &stored
			continue
		case inc == nil && e.regions != nil && !slices.ContainsFunc(stored.Targets, func(t string) bool { return e.linkable(t, nil) }):
			// Every target of it this replica checks is seen answering
			// here: the regions that see it fail hold it, not this one
			// (held with no target failing here, it would be resolved).
			others[id] = &stored
			continue
		case inc == nil:
			inc = &stored
			e.open[inc.Key] = inc
			e.changed = true
		case inc.Version != stored.Version:
			delete(e.open, inc.Key)
			*inc = stored
			e.open[inc.Key] = inc
			e.changed = true
		}
		if !adopt {
			continue
		}
		for _, t := range inc.Targets {
			if !e.linkable(t, inc) {
				continue
			}
			ts := e.target(t, "", "")
			if ts.incident != inc && ts.fails == 0 {
				// Its recovery from this outage may be counted already, by
				// the replica that checked it before (killed before every
				// target answered): counted again here, each owner would
				// add one, and a host's one recovery seen by three owners
				// would be taken for flapping.
				ts.recovery = ts.recovery || recordedSince(ts.resolves, inc.StartedAt)
				ts.dropAnswersBefore(inc.StartedAt)
				if ts.successes == 0 {
					e.markFailing(ts)
				}
			}
			ts.incident = inc
		}
	}
	if !maps.EqualFunc(others, e.others, func(a, b *linkwatch.Incident) bool { return a.Version == b.Version }) {
		e.changed = true
	}
	e.others = others
	return nil
}

// linkable reports whether refresh links target to inc, an open incident
// it takes in: a target this replica checks, not failing in another open
// incident, and, when the regions' vote decides, not seen answering here.
// One never seen here is assumed still failing; with regions, only if
// this region's last recorded verdict says so: the replica it moved from
// may have seen it answer again, and left the incident to the regions that
// see it fail (writing so in its timeline, once).
func (e *Engine) linkable(target string, inc *linkwatch.Incident) bool {
	if !e.owned(target) {
		return false
	}
	ts := e.targets[target]
	if ts != nil && ts.incident != nil && ts.incident != inc && ts.incident.Open() {
		return false // already failing in another open incident
	}
	if e.regions == nil {
		return true
	}
	if ts == nil || ts.fails == 0 && ts.successes == 0 {
		return e.regions.recordedFailing(target)
	}
	return ts.fails > 0 // answering here: the regions' vote decides
}

// markFailing makes a target restored from an open incident count as
// failing the threshold: the next successes resolve it.
func (e *Engine) markFailing(ts *targetState) {
	if ts.fails == 0 && ts.kind == linkwatch.TargetDestination {
		e.failingDestinations++
	}
	ts.fails = e.cfg.FailureThreshold
}

// recordedSince reports whether a recovery in resolves (a target's, as
// the store has them) was recorded at or after since: the start of the
// open incident it is linked to, whose outage that recovery ended.
func recordedSince(resolves []time.Time, since time.Time) bool {
	return slices.ContainsFunc(resolves, func(at time.Time) bool { return !at.Before(since) })
}

func sortedIDs(m map[int64]linkwatch.Incident) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// ResolveDeparted resolves the own incidents (prober_offline, canary) of
// replicas that are gone: a replica's network ends with it, and nobody
// else would ever see its canary answer again. live says which replicas
// are; the holder of the periodic jobs calls it. It returns how many it
// resolved. Safe to call while the engine runs.
func (e *Engine) ResolveDeparted(ctx context.Context, live func(replica string) bool) (int, error) {
	return onEngine(ctx, e, func() (int, error) {
		open, err := e.store.OpenIncidents(ctx)
		if err != nil {
			return 0, fmt.Errorf("incidents: load open incidents: %w", err)
		}
		n := 0
		for i := range open {
			inc := &open[i]
			if inc.Kind != linkwatch.KindProberOffline && inc.Kind != linkwatch.KindCanary || inc.Key == e.proberKey || inc.Key == e.canaryKey {
				continue
			}
			r := linkwatch.ReplicaOf(inc.Key)
			if r != "" && live(r) {
				continue
			}
			who := "replica " + r
			if r == "" {
				who = "the process that ran before replicas"
			}
			if err := e.resolve(ctx, inc, e.now().UTC(), who+" left: its own network's incident ends with it", nil); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	})
}

// MemberStore lists the replicas that are alive: those with a heartbeat
// within a time of the database's clock.
type MemberStore interface {
	LiveMembers(ctx context.Context, within time.Duration) ([]linkwatch.Member, error)
}

// ResolveLeftReplicas resolves the own incidents of the replicas with no
// heartbeat within the last within of the database's time ("replica
// left"; shard.Membership.Lookback): ResolveDeparted with the live
// replicas as members lists them. The holder of the periodic jobs runs
// it; its caller reports the error.
func (e *Engine) ResolveLeftReplicas(ctx context.Context, members MemberStore, within time.Duration) error {
	live, err := members.LiveMembers(ctx, within)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, m := range live {
		ids[m.ID] = true
	}
	n, err := e.ResolveDeparted(ctx, func(r string) bool { return ids[r] })
	if n > 0 {
		e.log.Info("resolved the own incidents of replicas that left", "incidents", n)
	}
	return err
}
