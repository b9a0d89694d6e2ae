// Package incidents turns check results into incidents: thresholds, host
// correlation, prober-offline suppression, flapping and maintenance, with a
// timeline, public updates and postmortem notes for each incident.
package incidents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch"
	"linkwatch/errlog"
)

// Store is what the engine needs from storage. Record writes an incident
// change, its timeline events, its evidence and its alert in one
// transaction: an alert exists if and only if its change does.
type Store interface {
	OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error)
	// Incident reads one incident, open or resolved (for an operator's
	// update to a resolved one).
	Incident(ctx context.Context, id int64) (linkwatch.Incident, error)
	Record(ctx context.Context, c Change) (linkwatch.Incident, error)
	ActiveMaintenance(ctx context.Context, at time.Time) ([]linkwatch.Maintenance, error)
	// IncidentUpdates reads an incident's public updates, oldest first:
	// those posted while its opening was held ride in it.
	IncidentUpdates(ctx context.Context, id int64) ([]linkwatch.Update, error)
	// RecordRecovery and Recoveries keep the flapping history, so a
	// restart does not forget that a target keeps flapping.
	RecordRecovery(ctx context.Context, target string, at, forgetBefore time.Time) error
	Recoveries(ctx context.Context, since time.Time) (map[string][]time.Time, error)
	// RecentChecks reads back each target's latest results (up to limit,
	// started at or after since), oldest first: the runs of failures and
	// successes a target taken over goes on counting (runs.go).
	RecentChecks(ctx context.Context, targets []string, since time.Time, limit int) (map[string][]linkwatch.Result, error)
}

// Change is one state change of one incident.
type Change struct {
	// Incident is the incident after the change; ID 0 creates it.
	Incident linkwatch.Incident
	Events   []linkwatch.Event
	// Evidence is the failing results that justify the change, kept with the
	// incident regardless of result retention.
	Evidence []linkwatch.Result
	// Alert is the outbox message, nil when none goes out (maintenance).
	Alert *linkwatch.Alert
	// GroupUntil, when set, holds the alert back until then: later alerts of
	// the same incident and reason are folded into it (Alert.Merge), so a
	// burst of updates is one message. Any other alert of the incident
	// releases the group first, so order is kept.
	GroupUntil time.Time
	// Update is an operator's public update to add with the change (a
	// resolution by hand carries the note); it sets the incident's public
	// status. Record fills in its ID and time.
	Update *linkwatch.Update
	// Acknowledged says the change is an operator acknowledging the
	// incident: Record writes Incident.AcknowledgedAt and AcknowledgedBy,
	// which it otherwise never writes over, and refuses (ErrConflict) an
	// incident that CheckAcknowledge refuses as the database has it.
	Acknowledged bool
	// Ends names the targets whose failure the change ends, at the
	// incident's ResolvedAt: a resolution, by the vote or by hand. Record
	// keeps the time (the latest) for the regions' vote, where a failing
	// verdict that began before it counts for nothing (see Decide).
	Ends []string
}

// The defaults of probe.failure_threshold, probe.success_threshold and
// alerts.group_interval: the config applies them, and NewEngine where a
// threshold is left zero. A zero GroupInterval is a value: no grouping.
const (
	DefaultFailureThreshold = 2
	DefaultSuccessThreshold = 2
	DefaultGroupInterval    = 30 * time.Second
)

// The flapping rule's defaults: a target that recovers DefaultFlapCount
// times within DefaultFlapWindow is flapping, and its incident resolves
// only after FlapStableFactor × SuccessThreshold successes in a row.
const (
	DefaultFlapCount  = 3
	DefaultFlapWindow = time.Hour
	FlapStableFactor  = 5
)

// Config is the engine's thresholds and windows.
type Config struct {
	FailureThreshold int           // consecutive failures to open (default DefaultFailureThreshold)
	SuccessThreshold int           // consecutive successes to resolve (default DefaultSuccessThreshold)
	GroupWindow      time.Duration // destinations on one host failing alike within this are one incident (default 2m)
	FlapCount        int           // resolutions within FlapWindow that make a target flapping (default DefaultFlapCount)
	FlapWindow       time.Duration // default DefaultFlapWindow
	// FlapStable is how many consecutive successes a flapping incident needs
	// before it resolves (default FlapStableFactor × SuccessThreshold).
	FlapStable int
	// CanaryID is the target that should always be up. A target's incident
	// opens only once the canary has answered since the target began to
	// fail; when the canary and most destinations fail together the prober
	// is offline.
	CanaryID string
	// OfflineFraction of destinations failing, with the canary, means the
	// prober is offline (default 0.8).
	OfflineFraction float64
	// GroupInterval folds the updates of one incident made within it into
	// one alert (alerts.group_interval); zero: no grouping.
	GroupInterval time.Duration
	// Replica names this process among replicas sharing the database: its
	// prober_offline and canary incidents are its own (keyed with it), as
	// its network is. Empty: the only process, with the plain keys.
	Replica string
	// RefreshEvery, when positive, reloads the open incidents from the
	// store that often, so incidents other replicas opened, changed or
	// resolved reach this replica's hub (fallbacks, down notes).
	RefreshEvery time.Duration
	// Region is where this engine's prober checks from (probe.region). Empty
	// is the one unnamed region: no vote, every incident decided here. Named,
	// the engine votes with the other regions' engines (see regions.go), and
	// its store must be a RegionStore.
	Region string
	// Interval is the probe interval (default linkwatch.DefaultInterval): the regions' rows are
	// written about once per interval and count for regionFreshness of them.
	Interval time.Duration
	// Now is the engine's clock (default time.Now). Replicas compare what
	// it stamps with what the others' stamped (incidents, verdicts, canary
	// rows, alert groups): serve gives every replica the database's
	// (storage.DB.Now), so a process whose own clock is off agrees with
	// the others.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.SuccessThreshold <= 0 {
		c.SuccessThreshold = DefaultSuccessThreshold
	}
	if c.GroupWindow <= 0 {
		c.GroupWindow = 2 * time.Minute
	}
	if c.FlapCount <= 0 {
		c.FlapCount = DefaultFlapCount
	}
	if c.FlapWindow <= 0 {
		c.FlapWindow = DefaultFlapWindow
	}
	if c.FlapStable <= 0 {
		c.FlapStable = FlapStableFactor * c.SuccessThreshold
	}
	if c.OfflineFraction <= 0 {
		c.OfflineFraction = 0.8
	}
	if c.Interval <= 0 {
		c.Interval = linkwatch.DefaultInterval
	}
}

// evidenceKept is how many recent failing results a target keeps as evidence.
const evidenceKept = 5

// maintenanceTTL is how long the engine reuses the active maintenance
// windows it read, so a muted outage of many targets is not one database
// read per result.
const maintenanceTTL = time.Second

// targetState is what the engine has observed of one target between
// results. Only incidents are state that matters after a restart; these
// observations start again from the next results.
type targetState struct {
	kind      linkwatch.TargetKind
	url       string
	fails     int
	successes int
	// firstFail is when the first failure of the current streak was seen
	// (its end: a check that started before our network failed may fail
	// after it did).
	firstFail time.Time
	recent    []linkwatch.Result  // last failing results, newest last
	incident  *linkwatch.Incident // the open incident it belongs to, if any
	held      bool                // failing past the threshold, held back: our network is not proven
	// recovery counts this streak of successes once in resolves.
	recovery bool
	resolves []time.Time // when it recovered, for flapping
	// seen is the start of the newest check of it this engine knows of;
	// counted, that of the newest read back from the store (continueRuns):
	// a result up to it is in the counts already.
	seen, counted time.Time
	// answered are the starts of the successes read back with the current
	// run, oldest first (nil for a run seen here): those from before an
	// incident began are no recovery from it.
	answered []time.Time
}

// Engine is the incident state machine. One goroutine feeds it (Run);
// every change is computed, written to the store with its events and alert,
// and only then applied in memory, so a failed write leaves memory as the
// database has it and the next result retries.
type Engine struct {
	cfg   Config
	store Store
	log   *slog.Logger
	now   func() time.Time

	depsMu sync.RWMutex                    // deps is replaced on config reload
	deps   map[string][]linkwatch.Affected // target ID -> links depending on it; its keys are every target but the canary

	targets map[string]*targetState
	open    map[string]*linkwatch.Incident // by key

	destinations, failingDestinations int // for prober-offline, kept as results arrive
	// canaryAnswers are when the canary last answered, oldest first: a
	// failing check proves our network only against an answer that came
	// between the target's first failure and the check's start, and checks
	// overlap the canary's (a timeout lasts seconds).
	canaryAnswers       []time.Time
	destinationAnswered time.Time

	maint   []linkwatch.Maintenance
	maintAt time.Time

	// Link health: what the open incidents say of the links, published to
	// observer when it changes; changed says an incident changed since the
	// fallbacks were last synced (at synced).
	observer HealthObserver
	health   *linkwatch.Health
	changed  bool
	synced   time.Time

	regions *regional // the regions' vote; nil in the one unnamed region

	reconcile chan struct{} // wakes Run when the dependency view changed
	pending   atomic.Bool   // removed targets' incidents may need resolving; retried with each result until done
	requests  chan func()   // operator actions, run on the engine's goroutine

	// others are the open incidents this engine does not decide about
	// (another replica's hosts, another region's vote), as the store had
	// them at the last refresh: the hub's health shows them too.
	others map[int64]*linkwatch.Incident
	// proberKey and canaryKey are this replica's own singleton keys.
	proberKey, canaryKey string
	// owns says which targets this replica checks (nil: all of them);
	// replaced under depsMu when the replicas' split changes.
	owns func(target string) bool
	// handOver is set when owns changed: targets given away are forgotten
	// and the incidents of targets taken over are read from the store.
	handOver atomic.Bool
	// failures log what fails with every result or refresh (a full disk
	// refuses every write) once a minute at most, with a count.
	failures errlog.Set
	// unhandled are the targets whose results the engine failed to take
	// in since the failures were last over (Run's goroutine only).
	unhandled map[string]bool
}

const switchFallbacksFailed = "incident engine: switch fallbacks (retried with the next result)"

// NewEngine rebuilds the engine's state from the store's open incidents, so
// a restart in the middle of an incident continues it instead of opening a
// duplicate. Incidents of targets no longer in deps resolve when Run starts.
func NewEngine(ctx context.Context, cfg Config, store Store, deps map[string][]linkwatch.Affected, log *slog.Logger) (*Engine, error) {
	cfg.defaults()
	e := &Engine{cfg: cfg, store: store, log: log, now: cfg.Now, deps: deps,
		targets: map[string]*targetState{}, open: map[string]*linkwatch.Incident{},
		reconcile: make(chan struct{}, 1), requests: make(chan func()),
		proberKey: linkwatch.ReplicaKey(linkwatch.ProberKey, cfg.Replica), canaryKey: linkwatch.ReplicaKey(linkwatch.CanaryKey, cfg.Replica)}
	e.failures = errlog.Set{Log: log, Now: func() time.Time { return e.now() }}
	e.pending.Store(true)
	if cfg.Region != "" {
		var err error
		if e.regions, err = newRegional(cfg, store); err != nil {
			return nil, err
		}
	}
	// All of them: the store forgets old ones as it records new ones, and
	// recentResolves keeps those within the window when it counts. Read
	// before the open incidents, so a target that recovered from one
	// before this process started is not counted as recovering twice.
	recoveries, err := store.Recoveries(ctx, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("incidents: load flapping history: %w", err)
	}
	for id, at := range recoveries {
		e.target(id, "", "").resolves = at
	}
	if err := e.continueRuns(ctx); err != nil {
		return nil, err
	}
	if err := e.refresh(ctx, true); err != nil {
		return nil, err
	}
	return e, nil
}

// SetDependencies replaces the dependency view after a config reload.
// It is safe to call while the engine runs; open incidents whose targets
// were all removed resolve on the engine's goroutine.
func (e *Engine) SetDependencies(deps map[string][]linkwatch.Affected) {
	e.depsMu.Lock()
	e.deps = deps
	e.depsMu.Unlock()
	e.pending.Store(true)
	select {
	case e.reconcile <- struct{}{}:
	default:
	}
}

// dependents returns the links that depend on a target.
func (e *Engine) dependents(target string) []linkwatch.Affected {
	e.depsMu.RLock()
	defer e.depsMu.RUnlock()
	return e.deps[target]
}

// configured reports whether a target is still checked.
func (e *Engine) configured(target string) bool {
	if target == e.cfg.CanaryID {
		return true
	}
	e.depsMu.RLock()
	defer e.depsMu.RUnlock()
	if e.deps == nil {
		return true // no dependency view: nothing is known to be removed
	}
	_, ok := e.deps[target]
	return ok
}

// Run feeds results from in to the engine until in is closed or ctx ends.
func (e *Engine) Run(ctx context.Context, in <-chan linkwatch.Result) {
	// The first reconcile also publishes the links' health as the open
	// incidents left it, before any result: a restart keeps visitors where
	// they were being sent.
	e.tryReconcile(ctx)
	var refresh <-chan time.Time
	if e.cfg.RefreshEvery > 0 {
		t := time.NewTicker(e.cfg.RefreshEvery)
		defer t.Stop()
		refresh = t.C
	}
	for {
		select {
		case <-refresh:
			e.failures.For("incident engine: reload open incidents (retried at the next refresh)").Report(ctx, e.refresh(ctx, e.regions == nil))
			e.failures.For(switchFallbacksFailed).Report(ctx, e.syncFallbacks(ctx))
		case r, ok := <-in:
			if !ok {
				return
			}
			e.reportHandled(ctx, r.TargetID, e.Handle(ctx, r))
		case <-e.reconcile:
			e.tryReconcile(ctx)
		case req := <-e.requests:
			req()
		case <-ctx.Done():
			return
		}
	}
}

// reportHandled logs a result the engine failed to take in, once a minute
// at most with a count, and the end of those failures: a later result of
// one of those targets taken in. Another target's result does not end
// them: most results write nothing (a link that keeps answering), so
// while a full disk refuses the writes of the one that fails, they prove
// nothing, and counting them would log every failure and every
// "recovery" in turn.
func (e *Engine) reportHandled(ctx context.Context, target string, err error) {
	rep := e.failures.For("incident engine")
	switch {
	case err != nil:
		if e.unhandled == nil {
			e.unhandled = map[string]bool{}
		}
		e.unhandled[target] = true
		rep.Report(ctx, err, "target", target)
	case e.unhandled[target]:
		clear(e.unhandled)
		rep.Report(ctx, nil)
	}
}

func (e *Engine) tryReconcile(ctx context.Context) {
	if e.handOver.Swap(false) {
		err := e.takeOver(ctx)
		if err != nil {
			e.handOver.Store(true)
		}
		e.failures.For("incident engine: take over the incidents of hosts moved here (retried with the next result)").Report(ctx, err)
	}
	if !e.pending.Swap(false) {
		return
	}
	err := e.Reconcile(ctx)
	if err != nil {
		e.pending.Store(true)
	}
	e.failures.For("incident engine: resolve incidents of removed targets (retried with the next result)").Report(ctx, err)
	// A reload may have added or removed fallbacks.
	e.failures.For(switchFallbacksFailed).Report(ctx, e.syncFallbacks(ctx))
}

// Reconcile resolves the open incidents left without a configured target
// ("target removed from the configuration"), and forgets removed targets.
// An incident that keeps configured targets goes on with them, and
// resolves now if none of those still fails.
func (e *Engine) Reconcile(ctx context.Context) error {
	now := e.now().UTC()
	e.changed = true // fallbacks may have been added or removed
	var errs []error
	for _, inc := range e.openIncidents() {
		if !e.ownsIncident(inc) {
			continue // its replica reconciles it
		}
		if !slices.ContainsFunc(inc.Targets, e.configured) {
			if err := e.resolve(ctx, inc, now, "target removed from the configuration", nil); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for id, ts := range e.targets {
		if e.configured(id) || (ts.incident != nil && !slices.ContainsFunc(ts.incident.Targets, e.configured)) {
			continue // configured, or its incident's resolution failed above and is retried
		}
		e.forget(id, ts)
	}
	for _, inc := range e.openIncidents() {
		if inc.Kind == linkwatch.KindProberOffline || inc.Kind == linkwatch.KindCanary || !e.ownsIncident(inc) {
			continue
		}
		if e.failingTargets(inc) == 0 {
			if err := e.resolve(ctx, inc, now, "its remaining targets answer; the others were removed from the configuration", nil); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := e.relink(ctx, inc, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// relink brings an open incident's affected links up to date with the
// dependency view after a reload: a link added to a failing destination is
// affected (and gets its fallback) now, not at the next incident; a removed
// link no longer is. No alert: the outage did not change.
func (e *Engine) relink(ctx context.Context, inc *linkwatch.Incident, now time.Time) error {
	var next []linkwatch.Affected
	for _, id := range inc.Targets {
		if !e.configured(id) {
			continue
		}
		for _, a := range e.dependents(id) {
			i := slices.IndexFunc(inc.Affected, func(o linkwatch.Affected) bool { return o.Page == a.Page && o.Link == a.Link && o.URL == a.URL })
			if i >= 0 && inc.Affected[i].Fallback == a.Fallback {
				a.Diverted = inc.Affected[i].Diverted // the fallback sync decides any switch
			}
			if !slices.ContainsFunc(next, func(o linkwatch.Affected) bool { return o.Page == a.Page && o.Link == a.Link }) {
				next = append(next, a)
			}
		}
	}
	if slices.Equal(next, inc.Affected) {
		return nil
	}
	c := Change{Incident: *inc, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventTargetAdded,
		Body: fmt.Sprintf("affected links updated by a config reload: %d now (were %d)", len(next), len(inc.Affected))}}}
	c.Incident.Affected, c.Incident.UpdatedAt = next, now
	return e.apply(ctx, inc, c, "relink")
}

// openIncidents returns the open incidents in a stable order.
func (e *Engine) openIncidents() []*linkwatch.Incident {
	out := make([]*linkwatch.Incident, 0, len(e.open))
	for _, inc := range e.open {
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b *linkwatch.Incident) int { return int(a.ID - b.ID) })
	return out
}

// failingTargets counts the targets still holding an incident open, each
// once: an incident recorded before join stopped adding a target twice
// may list one twice.
func (e *Engine) failingTargets(inc *linkwatch.Incident) int {
	n := 0
	for i, id := range inc.Targets {
		if ts := e.targets[id]; ts != nil && ts.incident == inc && slices.Index(inc.Targets, id) == i {
			n++
		}
	}
	return n
}

func (e *Engine) target(id string, kind linkwatch.TargetKind, u string) *targetState {
	ts := e.targets[id]
	if ts == nil {
		ts = &targetState{}
		e.targets[id] = ts
	}
	if kind != "" && ts.kind != kind {
		// A target restored from an open incident learns its kind from its
		// first result; it counts as failing from then on.
		failing := 0
		if ts.fails > 0 {
			failing = 1
		}
		if ts.kind == linkwatch.TargetDestination {
			e.destinations, e.failingDestinations = e.destinations-1, e.failingDestinations-failing
		}
		if kind == linkwatch.TargetDestination {
			e.destinations, e.failingDestinations = e.destinations+1, e.failingDestinations+failing
		}
		ts.kind = kind
	}
	if u != "" {
		ts.url = u
	}
	return ts
}

func (e *Engine) forget(id string, ts *targetState) {
	if ts.kind == linkwatch.TargetDestination {
		e.destinations--
		if ts.fails > 0 {
			e.failingDestinations--
		}
	}
	delete(e.targets, id)
}

// Handle advances the state machine with one result, then switches the
// fallbacks the change made due and publishes the links' health.
func (e *Engine) Handle(ctx context.Context, r linkwatch.Result) error {
	err := e.handle(ctx, r)
	return errors.Join(err, e.syncFallbacks(ctx))
}

func (e *Engine) handle(ctx context.Context, r linkwatch.Result) error {
	e.tryReconcile(ctx)
	if e.regions != nil {
		e.failures.For("incident engine: regions' vote (retried with the next result)").Report(ctx, e.regionTick(ctx))
	}
	ts := e.observe(r)
	err := e.decide(ctx, r, ts)
	if errors.Is(err, linkwatch.ErrConflict) {
		// Another replica (a host being handed over) or another region's
		// engine changed an incident this decision was made from, or
		// resolved it; record read the open incidents again. Decided once
		// more from what they are now, with the same observations: the
		// result is not lost, nor counted twice.
		err = e.decide(ctx, r, ts)
	}
	return err
}

// observe counts one result into its target's streaks and the canary's
// and destinations' answers.
func (e *Engine) observe(r linkwatch.Result) *targetState {
	ts := e.target(r.TargetID, r.Kind, r.URL)
	seen := r.Start.Add(r.Latency)
	counted := !r.Start.After(ts.counted) // read back from the store with its run
	ts.seen = later(ts.seen, r.Start)
	if r.OK() {
		if !counted {
			e.resetFailures(ts)
			ts.successes++
		}
		switch r.Kind {
		case linkwatch.TargetCanary:
			e.canaryAnswers = append(e.canaryAnswers, seen)
			if len(e.canaryAnswers) > canaryAnswersKept {
				e.canaryAnswers = e.canaryAnswers[1:]
			}
		case linkwatch.TargetDestination:
			e.destinationAnswered = later(e.destinationAnswered, seen)
		}
		return ts
	}
	if counted {
		return ts
	}
	if ts.fails == 0 {
		ts.firstFail = seen
		if ts.kind == linkwatch.TargetDestination {
			e.failingDestinations++
		}
	}
	ts.successes, ts.recovery, ts.answered = 0, false, nil
	ts.fails++
	ts.recent = append(ts.recent, r)
	if len(ts.recent) > evidenceKept {
		ts.recent = ts.recent[1:]
	}
	return ts
}

// decide makes the changes a result that observe counted calls for.
func (e *Engine) decide(ctx context.Context, r linkwatch.Result, ts *targetState) error {
	if r.OK() {
		return e.recoveredVoted(ctx, r, ts)
	}
	if err := e.checkCanary(ctx); err != nil {
		return err
	}
	if r.Kind == linkwatch.TargetCanary {
		if ts.incident != nil && ts.incident.AlertsSuppressed {
			return e.announceIfUnmuted(ctx, ts.incident, &r, e.now().UTC())
		}
		return nil
	}
	if ts.fails < e.cfg.FailureThreshold {
		return nil
	}
	if ts.incident != nil {
		return e.failingAgain(ctx, r, ts)
	}
	if !e.networkProven(ts, r) {
		if !ts.held {
			ts.held = true
			e.log.Info("incident held back: the prober's network is not proven since this target began to fail",
				"target", r.TargetID, "cause", r.Cause, "first_failure", ts.firstFail)
		}
		return nil
	}
	return e.failingVoted(ctx, r, ts)
}

// resetFailures ends a target's failure streak.
func (e *Engine) resetFailures(ts *targetState) {
	if ts.fails > 0 && ts.kind == linkwatch.TargetDestination {
		e.failingDestinations--
	}
	ts.fails, ts.held, ts.firstFail = 0, false, time.Time{}
	ts.recent = ts.recent[:0]
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// networkProven reports whether a failing target may open an incident: the
// canary has answered since the target began to fail, and the target failed
// again after that answer. Until then the failure may be our own network's,
// whatever order the canary and the destinations are checked in. Without a
// canary, or while the canary itself is down (its own incident), nothing is
// held: holding then would mean never paging.
func (e *Engine) networkProven(ts *targetState, r linkwatch.Result) bool {
	if e.cfg.CanaryID == "" {
		return true
	}
	if e.open[e.proberKey] != nil {
		return false
	}
	if e.open[e.canaryKey] != nil {
		return true
	}
	for _, a := range e.canaryAnswers {
		if a.After(ts.firstFail) && !r.Start.Before(a) {
			return true
		}
	}
	return false
}

// canaryAnswersKept bounds the canary's answer history. Once it is full,
// its oldest entry is several intervals old: any failure streak older than
// that has a later check that started after it.
const canaryAnswersKept = 8

const hubKey = linkwatch.HubKey

// failing places a target that just crossed the failure threshold into an
// incident: the hub's, its host's, or its own.
func (e *Engine) failing(ctx context.Context, r linkwatch.Result, ts *targetState) error {
	now := e.now().UTC()
	if r.Kind == linkwatch.TargetSelfCheck {
		if inc := e.open[hubKey]; inc != nil {
			return e.join(ctx, inc, inc.Key, inc.Kind, r, ts, now)
		}
		return e.openIncident(ctx, linkwatch.KindHub, hubKey, "", r, ts, now)
	}
	host := linkwatch.HostOf(r.URL)
	hostKey := linkwatch.HostKey(host, string(r.Cause))
	if inc := e.open[hostKey]; inc != nil {
		return e.join(ctx, inc, hostKey, linkwatch.KindHost, r, ts, now)
	}
	// Another destination on the same host failing the same way, recently:
	// the host is the outage. Its incident becomes the host incident. A
	// certificate about to expire is the host's whenever it is noticed (a
	// link added next week shares it), so it groups at any distance.
	for _, inc := range e.openIncidents() {
		recent := now.Sub(inc.StartedAt) <= e.cfg.GroupWindow || r.Cause == linkwatch.CauseTLSExpiring
		if inc.Kind == linkwatch.KindDestination && inc.Host == host && inc.Cause == r.Cause && recent {
			return e.join(ctx, inc, hostKey, linkwatch.KindHost, r, ts, now)
		}
	}
	return e.openIncident(ctx, linkwatch.KindDestination, linkwatch.DestKey(r.URL), host, r, ts, now)
}

func (e *Engine) openIncident(ctx context.Context, kind linkwatch.IncidentKind, key, host string, r linkwatch.Result, ts *targetState, now time.Time) error {
	inc := linkwatch.Incident{
		Key: key, Kind: kind, Host: host, Cause: r.Cause, Summary: e.summaryOf(r),
		Status: linkwatch.StatusInvestigating, Impact: impactOf(kind, r),
		Targets: []string{r.TargetID}, Affected: slices.Clone(e.dependents(r.TargetID)),
		StartedAt: ts.recent[0].Start.UTC(), UpdatedAt: now,
	}
	inc.Title = titleOf(&inc, r)
	// A target that keeps resolving and failing again is flapping from the
	// start: it stays one open incident until it is stable.
	resolves := e.recentResolves(ts, now)
	inc.Flapping = len(resolves) >= e.cfg.FlapCount
	ev := []linkwatch.Event{{At: now, Kind: linkwatch.EventOpened, Body: fmt.Sprintf("%s: %s", r.Cause, inc.Summary)}}
	if ts.held {
		ev = append(ev, linkwatch.Event{At: now, Kind: linkwatch.EventOpened, Body: fmt.Sprintf("held back from %s until the canary answered: the prober's own network was not proven", ts.firstFail.UTC().Format(time.RFC3339))})
	}
	if inc.Flapping {
		ev = append(ev, linkwatch.Event{At: now, Kind: linkwatch.EventFlapping, Body: fmt.Sprintf("%s resolved %d times within %s", r.TargetID, len(resolves), e.cfg.FlapWindow)})
	}
	// Visitors go to the fallback from this very change: the opening alert
	// says so, and the hub switches as soon as it is recorded.
	ev = append(ev, e.switchFallbacks(ctx, now, &inc, e.as(nil, &inc, r.TargetID))...)
	c := Change{Incident: inc, Events: ev, Evidence: slices.Clone(ts.recent)}
	e.alert(ctx, &c, linkwatch.AlertOpened, "", now, &r)
	saved, err := e.record(ctx, c)
	if errors.Is(err, linkwatch.ErrConflict) && e.open[key] != nil {
		// Another replica opened it first: this target fails in it too.
		inc := e.open[key]
		e.log.Info("incident already opened by another replica: joining it", "incident", inc.ID, "key", key, "target", r.TargetID)
		if slices.Contains(inc.Targets, r.TargetID) {
			ts.incident, ts.held = inc, false
			return nil
		}
		return e.join(ctx, inc, key, inc.Kind, r, ts, now)
	}
	if err != nil {
		return fmt.Errorf("incidents: open %s: %w", key, err)
	}
	e.open[key] = &saved
	ts.incident, ts.held, ts.resolves = e.open[key], false, resolves
	e.log.Warn("incident opened", "incident", saved.ID, "key", key, "cause", r.Cause, "summary", r.Summary, "alerts_suppressed", saved.AlertsSuppressed)
	return nil
}

// join adds a target to an open incident, under key and kind (a destination
// incident becomes its host's when a second destination joins).
func (e *Engine) join(ctx context.Context, inc *linkwatch.Incident, key string, kind linkwatch.IncidentKind, r linkwatch.Result, ts *targetState, now time.Time) error {
	next := *inc
	next.Key, next.Kind = key, kind
	// A target that recovered while others kept the incident open, and
	// fails again, is back in it, not in it twice: counted twice, it would
	// never be the last failing target, and the incident never resolve.
	again := slices.Contains(inc.Targets, r.TargetID)
	next.Targets = slices.Clone(inc.Targets)
	if !again {
		next.Targets = append(next.Targets, r.TargetID)
	}
	added := e.dependents(r.TargetID)
	next.Affected = linkwatch.MergeAffected(inc.Affected, added)
	next.Title = titleOf(&next, r)
	if imp := impactOf(next.Kind, r); imp.Rank() > next.Impact.Rank() {
		next.Impact = imp
	}
	next.UpdatedAt = now
	body := fmt.Sprintf("%s is failing too: %s", r.TargetID, r.Summary)
	if again {
		body = fmt.Sprintf("%s is failing again: %s", r.TargetID, r.Summary)
	}
	c := Change{Incident: next, Evidence: slices.Clone(ts.recent),
		Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventTargetAdded, Body: body}}}
	c.Events = append(c.Events, e.switchFallbacks(ctx, now, &c.Incident, e.as(inc, &c.Incident, r.TargetID))...)
	e.alert(ctx, &c, linkwatch.AlertUpdated, string(linkwatch.EventTargetAdded), now, &r)
	if c.Alert != nil {
		c.Alert.Added = slices.Clone(added)
	}
	saved, err := e.record(ctx, c)
	if err != nil {
		return fmt.Errorf("incidents: add %s to incident %d: %w", r.TargetID, inc.ID, err)
	}
	delete(e.open, inc.Key)
	*inc = saved
	e.open[inc.Key] = inc
	ts.incident, ts.held = inc, false
	return nil
}

// failingAgain follows a target already in an incident: a cause change, or
// the end of a maintenance window that muted the incident's opening alert.
func (e *Engine) failingAgain(ctx context.Context, r linkwatch.Result, ts *targetState) error {
	inc := ts.incident
	now := e.now().UTC()
	// A grouped incident keeps the cause it was grouped by, unless it got
	// worse: a host warned of its certificate's expiry whose certificate
	// has now expired is down, and its minor incident must say so.
	if r.Cause != inc.Cause && (len(inc.Targets) == 1 || impactOf(inc.Kind, r).Rank() > inc.Impact.Rank()) {
		next := *inc
		next.Cause, next.Summary, next.Impact, next.UpdatedAt = r.Cause, r.Summary, impactOf(inc.Kind, r), now
		next.Title = titleOf(&next, r)
		next.Affected = slices.Clone(inc.Affected)
		c := Change{Incident: next, Evidence: slices.Clone(ts.recent),
			Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventCauseChanged, Body: fmt.Sprintf("cause changed from %s to %s: %s", inc.Cause, r.Cause, r.Summary)}}}
		// Degraded to down switches to the fallback, down to degraded back.
		c.Events = append(c.Events, e.switchFallbacks(ctx, now, &c.Incident, e.as(inc, &c.Incident, ""))...)
		e.alert(ctx, &c, linkwatch.AlertUpdated, string(linkwatch.EventCauseChanged), now, &r)
		return e.apply(ctx, inc, c, "cause change")
	}
	if inc.AlertsSuppressed {
		return e.announceIfUnmuted(ctx, inc, &r, now)
	}
	return nil
}

// announceIfUnmuted sends the opening alert of an incident that a
// maintenance window muted, once no window covers it and it still fails.
func (e *Engine) announceIfUnmuted(ctx context.Context, inc *linkwatch.Incident, last *linkwatch.Result, now time.Time) error {
	if e.muted(ctx, now, inc) {
		return nil
	}
	c := Change{Incident: *inc, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventAnnounced,
		Body: "no maintenance window covers it any more and it still fails: alerting"}}}
	c.Incident.UpdatedAt = now
	e.alert(ctx, &c, linkwatch.AlertOpened, "", now, last)
	return e.apply(ctx, inc, c, "announce")
}

// record writes a change; the fallbacks are synced after any change.
func (e *Engine) record(ctx context.Context, c Change) (linkwatch.Incident, error) {
	saved, err := e.store.Record(ctx, c)
	if err == nil {
		e.changed = true
	}
	if errors.Is(err, linkwatch.ErrConflict) {
		// Another replica changed the incident, or opened the key, since
		// this copy was read (a host being handed over): memory takes the
		// database's state, and the next result recomputes from it.
		if rerr := e.refresh(ctx, e.regions == nil); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return saved, err
}

// apply records a change to an open incident and then takes it into memory.
func (e *Engine) apply(ctx context.Context, inc *linkwatch.Incident, c Change, what string) error {
	saved, err := e.record(ctx, c)
	if err != nil {
		return fmt.Errorf("incidents: %s on incident %d: %w", what, inc.ID, err)
	}
	*inc = saved
	return nil
}

// recovered resolves a target's incident once the target has succeeded
// enough times, and the incident once none of its targets still fails.
func (e *Engine) recovered(ctx context.Context, r linkwatch.Result, ts *targetState) error {
	now := e.now().UTC()
	if r.Kind == linkwatch.TargetCanary {
		if ts.successes < e.cfg.SuccessThreshold {
			return nil
		}
		for _, key := range []string{e.proberKey, e.canaryKey} {
			if inc := e.open[key]; inc != nil {
				if err := e.resolve(ctx, inc, now, "the canary answers again: the prober's network is back", nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
	inc := ts.incident
	if inc == nil {
		return nil
	}
	if ts.successes >= e.cfg.SuccessThreshold && !ts.recovery && !inc.Flapping {
		// This recovery counts once towards flapping, however often a write
		// below fails and is retried. It is stored first (memory follows
		// the database), so a restart keeps the flapping history.
		if err := e.store.RecordRecovery(ctx, r.TargetID, now, now.Add(-e.cfg.FlapWindow)); err != nil {
			return fmt.Errorf("incidents: record recovery of %s: %w", r.TargetID, err)
		}
		ts.resolves, ts.recovery = append(e.recentResolves(ts, now), now), true
	}
	// Checked apart from counting, so a failed write of the flapping mark
	// is retried with the next result.
	if resolves := e.recentResolves(ts, now); ts.recovery && !inc.Flapping && len(resolves) >= e.cfg.FlapCount {
		next := *inc
		next.Flapping, next.UpdatedAt = true, now
		c := Change{Incident: next, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventFlapping, Body: fmt.Sprintf("%s recovered %d times within %s; the incident stays open until it is stable for %d checks",
			r.TargetID, len(resolves), e.cfg.FlapWindow, e.cfg.FlapStable)}}}
		e.alert(ctx, &c, linkwatch.AlertUpdated, string(linkwatch.EventFlapping), now, nil)
		return e.apply(ctx, inc, c, "mark flapping")
	}
	need := e.cfg.SuccessThreshold
	if inc.Flapping {
		need = e.cfg.FlapStable
	}
	if ts.successes < need {
		return nil
	}
	if e.failingTargets(inc) > 1 {
		ts.incident = nil // another target of the incident still fails
		e.changed = true  // its links' visitors go back to it
		return nil
	}
	if held, err := e.heldElsewhere(ctx, inc, r.TargetID); err != nil || held {
		if held {
			e.unlink(ts)
		}
		return err
	}
	return e.resolve(ctx, inc, now, fmt.Sprintf("%s answers again (%d consecutive successes)", r.TargetID, ts.successes), nil)
}

// recentResolves returns ts's recoveries within the flap window.
func (e *Engine) recentResolves(ts *targetState, now time.Time) []time.Time {
	return slices.DeleteFunc(slices.Clone(ts.resolves), func(t time.Time) bool { return now.Sub(t) > e.cfg.FlapWindow })
}

// resolve closes an incident; update is an operator's note, if any.
func (e *Engine) resolve(ctx context.Context, inc *linkwatch.Incident, now time.Time, why string, update *linkwatch.Update) error {
	next := *inc
	next.Status, next.ResolvedAt, next.UpdatedAt = linkwatch.StatusResolved, now, now
	c := Change{Incident: next, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventResolved, Body: why}}, Update: update}
	if inc.Kind != linkwatch.KindProberOffline && inc.Kind != linkwatch.KindCanary {
		// Its targets' failures end here: with regions, a region that
		// still sees one failing counts again only after fresh failures.
		c.Ends = slices.Clone(inc.Targets)
	}
	c.Incident.Affected = slices.Clone(inc.Affected)
	for i := range c.Incident.Affected {
		if a := &c.Incident.Affected[i]; a.Diverted {
			a.Diverted = false
			c.Events = append(c.Events, linkwatch.Event{At: now, Kind: linkwatch.EventFallbackOff,
				Body: fmt.Sprintf("fallback off: visitors of %s/%s go to %s again: the incident is resolved", a.Page, a.Link, a.URL)})
		}
	}
	e.alert(ctx, &c, linkwatch.AlertResolved, "", now, nil)
	if c.Alert != nil {
		c.Alert.Update = update
	}
	saved, err := e.record(ctx, c)
	if errors.Is(err, linkwatch.ErrConflict) && e.openByID(inc.ID) == nil {
		return nil // another replica or region resolved it first: what this change was for
	}
	if err != nil {
		return fmt.Errorf("incidents: resolve incident %d: %w", inc.ID, err)
	}
	delete(e.open, inc.Key)
	for _, ts := range e.targets {
		if ts.incident == inc {
			ts.incident = nil
		}
	}
	*inc = saved
	e.log.Info("incident resolved", "incident", saved.ID, "key", saved.Key, "why", why, "duration", now.Sub(saved.StartedAt).Round(time.Second))
	return nil
}

// Resolve resolves an open incident by hand, with the operator's note as a
// public update. Its targets must fail the threshold again to open a new
// incident. It runs on the engine's goroutine, so it is safe to call while
// the engine runs.
func (e *Engine) Resolve(ctx context.Context, id int64, by, note string) (linkwatch.Incident, error) {
	return onEngine(ctx, e, func() (linkwatch.Incident, error) {
		inc := e.openByID(id)
		if inc == nil {
			// Another replica or region may hold it (its host is theirs),
			// and the admin API answers on every replica: resolved here
			// over the database's copy, which its version guards; the
			// holder lets go at its next refresh.
			stored, err := e.store.Incident(ctx, id)
			if err != nil {
				return linkwatch.Incident{}, err
			}
			// So is a regional note, which no engine holds: resolved by
			// hand, it reopens only once a region has failed
			// failure_threshold fresh checks after the resolution (see
			// Vote.Ended), never from the verdicts that made it.
			if !stored.Open() {
				return linkwatch.Incident{}, fmt.Errorf("incident %d is not open: %w", id, linkwatch.ErrConflict)
			}
			inc = &stored
		}
		now := e.now().UTC()
		targets := slices.Clone(inc.Targets)
		why := "resolved by " + by + ": " + note
		if err := e.resolve(ctx, inc, now, why, &linkwatch.Update{Status: linkwatch.StatusResolved, Body: note, CreatedAt: now}); err != nil {
			return linkwatch.Incident{}, err
		}
		for _, id := range targets {
			if ts := e.targets[id]; ts != nil {
				e.resetFailures(ts)
			}
		}
		// Its links' visitors go back to their destinations now.
		if err := e.syncFallbacks(ctx); err != nil {
			e.log.Error(switchFallbacksFailed, "err", err)
		}
		return *inc, nil
	})
}

// PostUpdate adds an operator's public update to an incident and sets its
// public status. An open incident is resolved with Resolve, not with an
// update; a resolved one takes only updates with status resolved. Like
// every alert, the update's is made here, on the engine's goroutine.
func (e *Engine) PostUpdate(ctx context.Context, id int64, by string, status linkwatch.IncidentStatus, body string) (linkwatch.Update, error) {
	return onEngine(ctx, e, func() (linkwatch.Update, error) {
		open := e.openByID(id)
		var inc linkwatch.Incident
		if open != nil {
			inc = *open
		} else {
			var err error
			if inc, err = e.store.Incident(ctx, id); err != nil {
				return linkwatch.Update{}, err
			}
		}
		switch {
		case inc.Open() && status == linkwatch.StatusResolved:
			return linkwatch.Update{}, fmt.Errorf("incident %d is still open; resolve it with POST /api/admin/incidents/%d/resolve: %w", id, id, linkwatch.ErrConflict)
		case !inc.Open() && status != linkwatch.StatusResolved:
			return linkwatch.Update{}, fmt.Errorf("incident %d is resolved; updates to it must have status resolved: %w", id, linkwatch.ErrConflict)
		}
		now := e.now().UTC()
		u := &linkwatch.Update{Status: status, Body: body}
		c := Change{Incident: inc, Update: u, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventUpdatePosted, Body: fmt.Sprintf("%s%s: %s", status, byline(by), body)}}}
		c.Incident.Status, c.Incident.UpdatedAt = status, now
		e.alert(ctx, &c, linkwatch.AlertUpdated, string(linkwatch.EventUpdatePosted), now, nil)
		saved, err := e.record(ctx, c)
		if err != nil {
			return linkwatch.Update{}, err
		}
		if open != nil {
			*open = saved
		}
		return *u, nil
	})
}

// byline names who did something on the timeline (" by ada"), or
// nothing where the caller did not say.
func byline(by string) string {
	if by == "" {
		return ""
	}
	return " by " + by
}

// Note adds an operator's internal update to an incident's timeline: for
// the team, never on the status page nor in an alert; it changes neither
// the incident's status nor anything else about it. Any incident, open or
// resolved, takes notes. Written over the database's copy as
// Acknowledge's change is.
func (e *Engine) Note(ctx context.Context, id int64, by, body string) (linkwatch.Event, error) {
	return onEngine(ctx, e, func() (linkwatch.Event, error) {
		for attempt := 0; ; attempt++ {
			inc, err := e.store.Incident(ctx, id)
			if err != nil {
				return linkwatch.Event{}, err
			}
			ev := linkwatch.Event{IncidentID: id, At: e.now().UTC(), Kind: linkwatch.EventNote, Body: "internal note" + byline(by) + ": " + body}
			saved, err := e.record(ctx, Change{Incident: inc, Events: []linkwatch.Event{ev}})
			if errors.Is(err, linkwatch.ErrConflict) && attempt == 0 {
				continue
			}
			if err != nil {
				return linkwatch.Event{}, err
			}
			if open := e.openByID(id); open != nil {
				*open = saved
			}
			return ev, nil
		}
	})
}

// Acknowledge records that someone is on an open incident, and tells
// every channel (an update, reason acknowledged) with the same
// transaction, as for any change. It is decided over the database's copy,
// which another replica may have changed since this one read it: a change
// refused for that is decided once more over the new copy. It runs on the
// engine's goroutine, so it is safe to call while the engine runs.
func (e *Engine) Acknowledge(ctx context.Context, id int64, by string) (linkwatch.Incident, error) {
	return onEngine(ctx, e, func() (linkwatch.Incident, error) {
		for attempt := 0; ; attempt++ {
			inc, err := e.store.Incident(ctx, id)
			if err != nil {
				return linkwatch.Incident{}, err
			}
			if err := linkwatch.CheckAcknowledge(inc); err != nil {
				return linkwatch.Incident{}, err
			}
			now := e.now().UTC()
			c := Change{Incident: inc, Acknowledged: true, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventAcknowledged, Body: "acknowledged by " + by}}}
			c.Incident.AcknowledgedAt, c.Incident.AcknowledgedBy, c.Incident.UpdatedAt = now, by, now
			e.alert(ctx, &c, linkwatch.AlertUpdated, string(linkwatch.EventAcknowledged), now, nil)
			saved, err := e.record(ctx, c)
			if errors.Is(err, linkwatch.ErrConflict) && attempt == 0 {
				continue
			}
			if err != nil {
				return linkwatch.Incident{}, err
			}
			if open := e.openByID(id); open != nil {
				*open = saved
			}
			e.log.Info("incident acknowledged", "incident", id, "by", by)
			return saved, nil
		}
	})
}

// openByID returns the open incident with id, or nil.
func (e *Engine) openByID(id int64) *linkwatch.Incident {
	for _, inc := range e.open {
		if inc.ID == id {
			return inc
		}
	}
	return nil
}

// onEngine runs fn on the engine's goroutine (Run) and returns its result:
// operator actions change the engine's state, which only that goroutine
// touches.
func onEngine[T any](ctx context.Context, e *Engine, fn func() (T, error)) (T, error) {
	type reply struct {
		v   T
		err error
	}
	done := make(chan reply, 1)
	req := func() {
		v, err := fn()
		done <- reply{v, err}
	}
	select {
	case e.requests <- req:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	r := <-done
	return r.v, r.err
}

// checkCanary opens the prober_offline incident when the canary and most
// destinations fail together, and the canary's own incident when it fails
// while destinations answer.
func (e *Engine) checkCanary(ctx context.Context) error {
	if e.cfg.CanaryID == "" || e.open[e.proberKey] != nil {
		return nil
	}
	canary := e.targets[e.cfg.CanaryID]
	if canary == nil || canary.fails < e.cfg.FailureThreshold {
		return nil
	}
	total, failing := e.destinations, e.failingDestinations
	now := e.now().UTC()
	cr := canary.recent[len(canary.recent)-1]
	offline := total > 0 && float64(failing) >= e.cfg.OfflineFraction*float64(total)
	why := fmt.Sprintf("the canary and %d of %d destinations fail at once (canary: %s): linkwatch's own network, not the destinations'", failing, total, cr.Summary)
	if e.regions != nil && !offline && e.open[e.canaryKey] == nil {
		// With regions the canary's failure is judged across them: while
		// another replica, of any region, reaches it, the canary is up and
		// this replica's network is what fails, whatever its destinations
		// do (its region leaves the vote unless another of its replicas
		// reaches the canary). Only when no one reaches it is the canary
		// itself down (its incident, once open, stays what it is: this is
		// read only until one of the two opens).
		reach, err := e.regions.reaching(ctx, e.cfg.Replica, now)
		if err != nil {
			return err
		}
		if len(reach) > 0 {
			offline = true
			why = fmt.Sprintf("the canary fails from this replica (%s) while %s %s it: this replica's own network, not the canary's", cr.Summary,
				joinRegions(reach), map[bool]string{true: "reaches", false: "reach"}[len(reach) == 1])
		}
	}
	switch {
	case offline:
		var held []string
		for id, ts := range e.targets {
			if ts.held {
				held = append(held, id)
			}
		}
		slices.Sort(held)
		inc := linkwatch.Incident{
			Key: e.proberKey, Kind: linkwatch.KindProberOffline, Cause: linkwatch.CauseProberOffline,
			Summary: why, Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, Targets: []string{e.cfg.CanaryID},
			StartedAt: canary.recent[0].Start.UTC(), UpdatedAt: now,
		}
		inc.Title = "Prober offline: destination alerts held back" + e.replicaNote()
		ev := []linkwatch.Event{{At: now, Kind: linkwatch.EventOpened, Body: inc.Summary}}
		if len(held) > 0 {
			ev = append(ev, linkwatch.Event{At: now, Kind: linkwatch.EventOpened, Body: fmt.Sprintf("%d targets past their failure threshold held back: %s", len(held), nameSome(held, 20))})
		}
		c := Change{Incident: inc, Events: ev, Evidence: slices.Clone(canary.recent)}
		e.alert(ctx, &c, linkwatch.AlertOpened, "", now, &cr)
		saved, err := e.record(ctx, c)
		if err != nil {
			return fmt.Errorf("incidents: open prober_offline: %w", err)
		}
		e.open[e.proberKey] = &saved
		canary.incident = e.open[e.proberKey]
		e.log.Error("prober offline", "incident", saved.ID, "failing", failing, "of", total, "held", len(held))
	case e.open[e.canaryKey] == nil && e.destinationAnswered.After(canary.firstFail):
		inc := linkwatch.Incident{
			Key: e.canaryKey, Kind: linkwatch.KindCanary, Cause: cr.Cause,
			Summary: fmt.Sprintf("the canary fails (%s) while destinations answer: offline detection is off until it is back, and destination incidents are no longer held for it", cr.Summary),
			Status:  linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMinor, Targets: []string{e.cfg.CanaryID},
			StartedAt: canary.recent[0].Start.UTC(), UpdatedAt: now,
		}
		inc.Title = "Canary unreachable: prober-offline detection is off" + e.replicaNote()
		c := Change{Incident: inc, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventOpened, Body: inc.Summary}}, Evidence: slices.Clone(canary.recent)}
		e.alert(ctx, &c, linkwatch.AlertOpened, "", now, &cr)
		saved, err := e.record(ctx, c)
		if err != nil {
			return fmt.Errorf("incidents: open canary incident: %w", err)
		}
		e.open[e.canaryKey] = &saved
		if canary.incident == nil {
			canary.incident = e.open[e.canaryKey]
		}
		e.log.Warn("canary unreachable while destinations answer", "incident", saved.ID, "cause", cr.Cause)
	}
	return nil
}

func nameSome(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

// muted reports whether a maintenance window covers the incident now.
func (e *Engine) muted(ctx context.Context, now time.Time, inc *linkwatch.Incident) bool {
	if e.maintAt.IsZero() || now.Sub(e.maintAt) >= maintenanceTTL || now.Before(e.maintAt) {
		windows, err := e.store.ActiveMaintenance(ctx, now)
		// Logged once a minute with a count, not for every alert of a
		// database outage (a line each half second per replica).
		e.failures.For("read maintenance windows (alerting as if there were none)").Report(ctx, err)
		if err != nil {
			// Failing open: an alert during maintenance beats a missed outage.
			return false
		}
		e.maint, e.maintAt = windows, now
	}
	components := inc.Components()
	for _, m := range e.maint {
		if m.Covers(now, components) {
			return true
		}
	}
	return false
}

// alert is the mute step, taken when an alert is made rather than stamped
// on the incident when it opens (like Alertmanager's MuteStage): it sets
// c.Alert, or leaves it nil when a maintenance window mutes it.
//   - An opening alert inside a window is held: the incident is marked
//     AlertsSuppressed, and the first failure after the window announces it.
//   - Updates of an announced incident are muted inside a window; an
//     update of an unannounced one announces it once no window covers it.
//     An operator's public updates to an unannounced incident are sent
//     with its opening, when it is announced.
//   - The resolution of an announced incident always goes out, so no
//     channel is left showing an outage that ended; an incident that never
//     alerted resolves silently.
func (e *Engine) alert(ctx context.Context, c *Change, t linkwatch.AlertType, reason string, now time.Time, last *linkwatch.Result) {
	inc := &c.Incident
	if inc.Kind == linkwatch.KindRegional {
		return // a regional note never alerts, not even resolved by hand
	}
	if reason == string(linkwatch.EventUpdatePosted) || reason == string(linkwatch.EventAcknowledged) {
		// An operator's words and acknowledgement go out whenever the
		// incident has alerted, maintenance or not: someone chose to say
		// them. Public updates are grouped as automatic ones are, so
		// updates posted within the group interval (a correction, a status
		// then its words) are one message on every channel, one mail to a
		// subscriber; an acknowledgement goes at once: it tells the team
		// someone is on it.
		if !inc.AlertsSuppressed {
			c.Alert = &linkwatch.Alert{Type: t, Reason: reason, CreatedAt: now}
			if reason == string(linkwatch.EventUpdatePosted) {
				c.GroupUntil = e.groupUntil(now)
			}
		}
		return
	}
	if t == linkwatch.AlertResolved {
		if !inc.AlertsSuppressed {
			c.Alert = &linkwatch.Alert{Type: t, CreatedAt: now}
		}
		return
	}
	if e.muted(ctx, now, inc) {
		if t == linkwatch.AlertOpened {
			inc.AlertsSuppressed = true
		}
		return
	}
	if inc.AlertsSuppressed || t == linkwatch.AlertOpened {
		c.Alert = &linkwatch.Alert{Type: linkwatch.AlertOpened, CreatedAt: now, LastResult: last}
		if inc.AlertsSuppressed && inc.ID != 0 {
			e.heldUpdates(ctx, c.Alert, inc.ID)
		}
		inc.AlertsSuppressed = false
		return
	}
	c.Alert = &linkwatch.Alert{Type: t, Reason: reason, CreatedAt: now, LastResult: last}
	c.GroupUntil = e.groupUntil(now)
}

// heldUpdates puts in a, the opening of an incident announced after a
// maintenance window held it, the public updates posted meanwhile (no
// channel was told of them: none had heard of the incident), so the first
// message every channel gets has the operators' words. Failing to read
// them sends the opening without them.
func (e *Engine) heldUpdates(ctx context.Context, a *linkwatch.Alert, id int64) {
	ups, err := e.store.IncidentUpdates(ctx, id)
	if err != nil {
		e.log.Error("read the public updates of a held incident", "incident", id, "err", err)
		return
	}
	if n := len(ups); n > 0 {
		a.Earlier, a.Update = slices.Clip(ups[:n-1]), &ups[n-1]
		if n == 1 {
			a.Earlier = nil
		}
	}
}

// groupUntil is when an update made at now is released from its group
// (alerts.group_interval); zero, not grouped, when the interval is.
func (e *Engine) groupUntil(now time.Time) time.Time {
	if e.cfg.GroupInterval <= 0 {
		return time.Time{}
	}
	return now.Add(e.cfg.GroupInterval)
}

func impactOf(kind linkwatch.IncidentKind, r linkwatch.Result) linkwatch.Impact {
	switch {
	case r.Status == linkwatch.StatusDegraded:
		return linkwatch.ImpactMinor
	case kind == linkwatch.KindHub:
		return linkwatch.ImpactCritical
	default:
		return linkwatch.ImpactMajor
	}
}

func titleOf(inc *linkwatch.Incident, r linkwatch.Result) string {
	switch inc.Kind {
	case linkwatch.KindHub:
		return fmt.Sprintf("Hub redirects failing (%s)", inc.Cause)
	case linkwatch.KindHost:
		return fmt.Sprintf("%s: %d destinations failing (%s)", inc.Host, len(inc.Targets), inc.Cause)
	case linkwatch.KindProberOffline:
		return "Prober offline"
	}
	name := r.URL
	if len(inc.Affected) > 0 {
		name = inc.Affected[0].Page + "/" + inc.Affected[0].Link
		if a := inc.Affected[0]; r.URL != a.URL && r.URL == a.Fallback {
			name = "the fallback of " + name // the link itself still works
		}
		if len(inc.Affected) > 1 {
			name += fmt.Sprintf(" and %d more", len(inc.Affected)-1)
		}
	}
	return fmt.Sprintf("%s is %s (%s)", name, strings.ReplaceAll(string(r.Status), "_", " "), inc.Cause)
}
