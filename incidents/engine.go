package incidents

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"linkwatch/checker"
)

// Store is what the engine needs from storage. Record writes an incident
// change, its timeline events, its evidence and its alert in one
// transaction: an alert exists if and only if its change does.
type Store interface {
	OpenIncidents(ctx context.Context) ([]Incident, error)
	Record(ctx context.Context, c Change) (Incident, error)
	ActiveMaintenance(ctx context.Context, at time.Time) ([]Maintenance, error)
}

// Change is one state change of one incident.
type Change struct {
	// Incident is the incident after the change; ID 0 creates it.
	Incident Incident
	Events   []Event
	// Evidence is the failing results that justify the change, kept with the
	// incident regardless of result retention.
	Evidence []checker.Result
	// Alert is the outbox message, nil when none goes out (maintenance).
	Alert *Alert
}

// Config is the engine's thresholds and windows.
type Config struct {
	FailureThreshold int           // consecutive failures to open (default 2)
	SuccessThreshold int           // consecutive successes to resolve (default 2)
	GroupWindow      time.Duration // destinations on one host failing alike within this are one incident (default 2m)
	FlapCount        int           // resolutions within FlapWindow that make a target flapping (default 3)
	FlapWindow       time.Duration // default 1h
	// FlapStable is how many consecutive successes a flapping incident needs
	// before it resolves (default 5 × SuccessThreshold).
	FlapStable int
	// CanaryID is the target that should always be up; when it and most
	// destinations fail together the prober is offline.
	CanaryID string
	// OfflineFraction of destinations failing, with the canary, means the
	// prober is offline (default 0.8).
	OfflineFraction float64
}

func (c *Config) defaults() {
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = 2
	}
	if c.SuccessThreshold <= 0 {
		c.SuccessThreshold = 2
	}
	if c.GroupWindow <= 0 {
		c.GroupWindow = 2 * time.Minute
	}
	if c.FlapCount <= 0 {
		c.FlapCount = 3
	}
	if c.FlapWindow <= 0 {
		c.FlapWindow = time.Hour
	}
	if c.FlapStable <= 0 {
		c.FlapStable = 5 * c.SuccessThreshold
	}
	if c.OfflineFraction <= 0 {
		c.OfflineFraction = 0.8
	}
}

// evidenceKept is how many recent failing results a target keeps as evidence.
const evidenceKept = 5

// targetState is what the engine remembers of one target between results.
type targetState struct {
	kind      checker.Kind
	url       string
	fails     int
	successes int
	recent    []checker.Result // last failing results, newest last
	incident  *Incident        // the open incident it belongs to, if any
	held      bool             // failing, but held back while the prober is offline
	resolves  []time.Time      // when its incidents resolved, for flapping
}

// Engine is the incident state machine. It is not safe for concurrent use:
// one goroutine feeds it results (see Run).
type Engine struct {
	cfg   Config
	store Store
	log   *slog.Logger
	now   func() time.Time

	depsMu  sync.RWMutex          // deps is replaced on config reload
	deps    map[string][]Affected // target ID -> links depending on it
	targets map[string]*targetState
	open    map[string]*Incident // by key
}

// NewEngine rebuilds the engine's state from the store's open incidents, so
// a restart in the middle of an incident continues it instead of opening a
// duplicate.
func NewEngine(ctx context.Context, cfg Config, store Store, deps map[string][]Affected, log *slog.Logger) (*Engine, error) {
	cfg.defaults()
	e := &Engine{cfg: cfg, store: store, log: log, now: time.Now, deps: deps,
		targets: map[string]*targetState{}, open: map[string]*Incident{}}
	open, err := store.OpenIncidents(ctx)
	if err != nil {
		return nil, fmt.Errorf("incidents: load open incidents: %w", err)
	}
	for i := range open {
		inc := open[i]
		e.open[inc.Key] = &inc
		for _, id := range inc.Targets {
			// Assume still failing: the next successes resolve it.
			e.targets[id] = &targetState{fails: cfg.FailureThreshold, incident: e.open[inc.Key]}
		}
	}
	return e, nil
}

// SetDependencies replaces the dependency view after a config reload.
// It is safe to call while the engine runs.
func (e *Engine) SetDependencies(deps map[string][]Affected) {
	e.depsMu.Lock()
	e.deps = deps
	e.depsMu.Unlock()
}

// dependents returns the links that depend on a target.
func (e *Engine) dependents(target string) []Affected {
	e.depsMu.RLock()
	defer e.depsMu.RUnlock()
	return e.deps[target]
}

// Run feeds results from in to the engine until in is closed or ctx ends.
func (e *Engine) Run(ctx context.Context, in <-chan checker.Result) {
	for {
		select {
		case r, ok := <-in:
			if !ok {
				return
			}
			if err := e.Handle(ctx, r); err != nil {
				e.log.Error("incident engine", "target", r.TargetID, "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// Handle advances the state machine with one result.
func (e *Engine) Handle(ctx context.Context, r checker.Result) error {
	ts := e.targets[r.TargetID]
	if ts == nil {
		ts = &targetState{}
		e.targets[r.TargetID] = ts
	}
	ts.kind, ts.url = r.Kind, r.URL
	if r.OK() {
		ts.fails, ts.held = 0, false
		ts.successes++
		ts.recent = ts.recent[:0]
		return e.recovered(ctx, r, ts)
	}
	ts.successes = 0
	ts.fails++
	ts.recent = append(ts.recent, r)
	if len(ts.recent) > evidenceKept {
		ts.recent = ts.recent[1:]
	}
	if r.Kind == checker.KindCanary || ts.fails < e.cfg.FailureThreshold {
		return e.checkProberOffline(ctx, r)
	}
	if err := e.checkProberOffline(ctx, r); err != nil {
		return err
	}
	if ts.incident != nil {
		return e.stillFailing(ctx, r, ts)
	}
	if e.open[proberKey] != nil && r.Kind == checker.KindDestination {
		ts.held = true // our network, not theirs: hold destination incidents back
		return nil
	}
	return e.failing(ctx, r, ts)
}

const (
	proberKey = "prober"
	hubKey    = "hub"
)

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// failing places a target that just crossed the failure threshold into an
// incident: the hub's, its host's, or its own.
func (e *Engine) failing(ctx context.Context, r checker.Result, ts *targetState) error {
	now := e.now().UTC()
	if r.Kind == checker.KindSelfCheck {
		if inc := e.open[hubKey]; inc != nil {
			return e.join(ctx, inc, r, ts, now)
		}
		return e.openIncident(ctx, KindHub, hubKey, "", r, ts, now)
	}
	host := hostOf(r.URL)
	hostKey := "host:" + host + "|" + string(r.Cause)
	if inc := e.open[hostKey]; inc != nil {
		return e.join(ctx, inc, r, ts, now)
	}
	// Another destination on the same host failing the same way, recently:
	// the host is the outage. Its incident becomes the host incident. A
	// certificate about to expire is the host's whenever it is noticed (a
	// link added next week shares it), so it groups at any distance.
	for key, inc := range e.open {
		recent := now.Sub(inc.StartedAt) <= e.cfg.GroupWindow || r.Cause == checker.CauseTLSExpiring
		if inc.Kind == KindDestination && inc.Host == host && inc.Cause == r.Cause && recent {
			delete(e.open, key)
			inc.Key, inc.Kind = hostKey, KindHost
			e.open[hostKey] = inc
			return e.join(ctx, inc, r, ts, now)
		}
	}
	return e.openIncident(ctx, KindDestination, "dest:"+r.URL, host, r, ts, now)
}

func (e *Engine) openIncident(ctx context.Context, kind Kind, key, host string, r checker.Result, ts *targetState, now time.Time) error {
	inc := Incident{
		Key: key, Kind: kind, Host: host, Cause: r.Cause, Summary: r.Summary,
		Status: StatusInvestigating, Impact: impactOf(kind, r),
		Targets: []string{r.TargetID}, Affected: slices.Clone(e.dependents(r.TargetID)),
		StartedAt: ts.recent[0].Start.UTC(), UpdatedAt: now,
	}
	inc.Title = titleOf(&inc, r)
	// A target that keeps resolving and failing again is flapping from the
	// start: it stays one open incident until it is stable.
	inc.Flapping = e.flapping(ts, now)
	components := e.components(r)
	inc.AlertsSuppressed = e.inMaintenance(ctx, now, components)
	ev := []Event{{At: now, Kind: EventOpened, Body: fmt.Sprintf("%s: %s", r.Cause, r.Summary)}}
	if inc.Flapping {
		ev = append(ev, Event{At: now, Kind: EventFlapping, Body: fmt.Sprintf("%s resolved %d times within %s", r.TargetID, len(ts.resolves), e.cfg.FlapWindow)})
	}
	saved, err := e.store.Record(ctx, Change{Incident: inc, Events: ev, Evidence: slices.Clone(ts.recent), Alert: e.alert(AlertOpened, "", &inc, now, &r)})
	if err != nil {
		return fmt.Errorf("incidents: open %s: %w", key, err)
	}
	e.open[key] = &saved
	ts.incident = e.open[key]
	e.log.Warn("incident opened", "incident", saved.ID, "key", key, "cause", r.Cause, "summary", r.Summary, "alerts_suppressed", saved.AlertsSuppressed)
	return nil
}

// join adds a target to an open incident.
func (e *Engine) join(ctx context.Context, inc *Incident, r checker.Result, ts *targetState, now time.Time) error {
	next := *inc
	next.Targets = append(slices.Clone(inc.Targets), r.TargetID)
	next.Affected = mergeAffected(inc.Affected, e.dependents(r.TargetID))
	next.Title = titleOf(&next, r)
	if imp := impactOf(next.Kind, r); rank(imp) > rank(next.Impact) {
		next.Impact = imp
	}
	next.UpdatedAt = now
	ev := []Event{{At: now, Kind: EventTargetAdded, Body: fmt.Sprintf("%s is failing too: %s", r.TargetID, r.Summary)}}
	saved, err := e.store.Record(ctx, Change{Incident: next, Events: ev, Evidence: slices.Clone(ts.recent), Alert: e.alert(AlertUpdated, string(EventTargetAdded), &next, now, &r)})
	if err != nil {
		return fmt.Errorf("incidents: add %s to incident %d: %w", r.TargetID, inc.ID, err)
	}
	*inc = saved
	ts.incident = inc
	return nil
}

// stillFailing notices a cause change on a target already in an incident.
func (e *Engine) stillFailing(ctx context.Context, r checker.Result, ts *targetState) error {
	inc := ts.incident
	if r.Cause == inc.Cause {
		return nil
	}
	// A grouped incident keeps the cause it was grouped by, unless it got
	// worse: a host warned of its certificate's expiry whose certificate
	// has now expired is down, and its minor incident must say so.
	if len(inc.Targets) > 1 && rank(impactOf(inc.Kind, r)) <= rank(inc.Impact) {
		return nil
	}
	now := e.now().UTC()
	next := *inc
	next.Cause, next.Summary, next.Impact, next.UpdatedAt = r.Cause, r.Summary, impactOf(inc.Kind, r), now
	next.Title = titleOf(&next, r)
	ev := []Event{{At: now, Kind: EventCauseChanged, Body: fmt.Sprintf("cause changed from %s to %s: %s", inc.Cause, r.Cause, r.Summary)}}
	saved, err := e.store.Record(ctx, Change{Incident: next, Events: ev, Evidence: slices.Clone(ts.recent), Alert: e.alert(AlertUpdated, string(EventCauseChanged), &next, now, &r)})
	if err != nil {
		return fmt.Errorf("incidents: cause change on incident %d: %w", inc.ID, err)
	}
	*inc = saved
	return nil
}

// recovered resolves a target's incident once the target has succeeded
// enough times, and the incident once none of its targets still fails.
func (e *Engine) recovered(ctx context.Context, r checker.Result, ts *targetState) error {
	if r.Kind == checker.KindCanary {
		if inc := e.open[proberKey]; inc != nil && ts.successes >= e.cfg.SuccessThreshold {
			return e.resolve(ctx, inc, e.now().UTC(), "the canary answers again: the prober's network is back")
		}
		return nil
	}
	inc := ts.incident
	if inc == nil {
		return nil
	}
	need := e.cfg.SuccessThreshold
	if inc.Flapping {
		need = e.cfg.FlapStable
	}
	now := e.now().UTC()
	if ts.successes == e.cfg.SuccessThreshold && !inc.Flapping {
		ts.resolves = append(ts.resolves, now)
		if e.flapping(ts, now) {
			return e.markFlapping(ctx, inc, r, ts, now)
		}
	}
	if ts.successes < need {
		return nil
	}
	ts.incident = nil
	for _, id := range inc.Targets {
		if other := e.targets[id]; other != nil && other.incident == inc {
			return nil // another target of the incident still fails
		}
	}
	return e.resolve(ctx, inc, now, fmt.Sprintf("%s answers again (%d consecutive successes)", r.TargetID, ts.successes))
}

// flapping reports whether ts resolved FlapCount times within FlapWindow.
func (e *Engine) flapping(ts *targetState, now time.Time) bool {
	ts.resolves = slices.DeleteFunc(ts.resolves, func(t time.Time) bool { return now.Sub(t) > e.cfg.FlapWindow })
	return len(ts.resolves) >= e.cfg.FlapCount
}

func (e *Engine) markFlapping(ctx context.Context, inc *Incident, r checker.Result, ts *targetState, now time.Time) error {
	next := *inc
	next.Flapping, next.UpdatedAt = true, now
	ev := []Event{{At: now, Kind: EventFlapping, Body: fmt.Sprintf("%s recovered %d times within %s; the incident stays open until it is stable for %d checks",
		r.TargetID, len(ts.resolves), e.cfg.FlapWindow, e.cfg.FlapStable)}}
	saved, err := e.store.Record(ctx, Change{Incident: next, Events: ev, Alert: e.alert(AlertUpdated, string(EventFlapping), &next, now, nil)})
	if err != nil {
		return fmt.Errorf("incidents: mark incident %d flapping: %w", inc.ID, err)
	}
	*inc = saved
	return nil
}

func (e *Engine) resolve(ctx context.Context, inc *Incident, now time.Time, why string) error {
	next := *inc
	next.Status, next.ResolvedAt, next.UpdatedAt = StatusResolved, now, now
	ev := []Event{{At: now, Kind: EventResolved, Body: why}}
	saved, err := e.store.Record(ctx, Change{Incident: next, Events: ev, Alert: e.alert(AlertResolved, "", &next, now, nil)})
	if err != nil {
		return fmt.Errorf("incidents: resolve incident %d: %w", inc.ID, err)
	}
	delete(e.open, inc.Key)
	for _, ts := range e.targets {
		if ts.incident == inc {
			ts.incident = nil
		}
	}
	e.log.Info("incident resolved", "incident", saved.ID, "key", saved.Key, "duration", now.Sub(saved.StartedAt).Round(time.Second))
	return nil
}

// checkProberOffline opens the prober_offline incident when the canary and
// most destinations fail together.
func (e *Engine) checkProberOffline(ctx context.Context, r checker.Result) error {
	if e.cfg.CanaryID == "" || e.open[proberKey] != nil {
		return nil
	}
	canary := e.targets[e.cfg.CanaryID]
	if canary == nil || canary.fails < e.cfg.FailureThreshold {
		return nil
	}
	total, failing := 0, 0
	for _, ts := range e.targets {
		if ts.kind != checker.KindDestination {
			continue
		}
		total++
		if ts.fails > 0 {
			failing++
		}
	}
	if total == 0 || float64(failing) < e.cfg.OfflineFraction*float64(total) {
		return nil
	}
	now := e.now().UTC()
	cr := canary.recent[len(canary.recent)-1]
	inc := Incident{
		Key: proberKey, Kind: KindProberOffline, Cause: checker.CauseProberOffline,
		Summary: fmt.Sprintf("the canary and %d of %d destinations fail at once (canary: %s): our network, not theirs", failing, total, cr.Summary),
		Status:  StatusInvestigating, Impact: ImpactMajor, Targets: []string{e.cfg.CanaryID},
		StartedAt: canary.recent[0].Start.UTC(), UpdatedAt: now,
	}
	inc.Title = "Prober offline: destination alerts held back"
	inc.AlertsSuppressed = e.inMaintenance(ctx, now, []string{"prober"})
	saved, err := e.store.Record(ctx, Change{Incident: inc,
		Events:   []Event{{At: now, Kind: EventOpened, Body: inc.Summary}},
		Evidence: slices.Clone(canary.recent), Alert: e.alert(AlertOpened, "", &inc, now, &cr)})
	if err != nil {
		return fmt.Errorf("incidents: open prober_offline: %w", err)
	}
	e.open[proberKey] = &saved
	e.log.Error("prober offline", "incident", saved.ID, "failing", failing, "of", total)
	return nil
}

// components names what a result's target belongs to, for maintenance.
func (e *Engine) components(r checker.Result) []string {
	if r.Kind == checker.KindSelfCheck {
		return []string{"hub"}
	}
	out := []string{"dest:" + r.URL, "host:" + hostOf(r.URL)}
	for _, a := range e.dependents(r.TargetID) {
		out = append(out, "page:"+a.Page)
	}
	return out
}

func (e *Engine) inMaintenance(ctx context.Context, now time.Time, components []string) bool {
	windows, err := e.store.ActiveMaintenance(ctx, now)
	if err != nil {
		// Failing open: an alert during maintenance beats a missed outage.
		e.log.Error("read maintenance windows", "err", err)
		return false
	}
	for _, m := range windows {
		if m.Covers(now, components) {
			return true
		}
	}
	return false
}

// alert builds the outbox message for a change, or nil when the incident's
// alerts are suppressed by maintenance.
func (e *Engine) alert(t AlertType, reason string, inc *Incident, now time.Time, last *checker.Result) *Alert {
	if inc.AlertsSuppressed {
		return nil
	}
	return &Alert{Type: t, Reason: reason, CreatedAt: now, LastResult: last}
}

func impactOf(kind Kind, r checker.Result) Impact {
	switch {
	case r.Status == checker.StatusDegraded:
		return ImpactMinor
	case kind == KindHub:
		return ImpactCritical
	default:
		return ImpactMajor
	}
}

func rank(i Impact) int {
	return map[Impact]int{ImpactNone: 0, ImpactMinor: 1, ImpactMajor: 2, ImpactCritical: 3}[i]
}

func titleOf(inc *Incident, r checker.Result) string {
	switch inc.Kind {
	case KindHub:
		return fmt.Sprintf("Hub redirects failing (%s)", inc.Cause)
	case KindHost:
		return fmt.Sprintf("%s: %d destinations failing (%s)", inc.Host, len(inc.Targets), inc.Cause)
	case KindProberOffline:
		return "Prober offline"
	}
	name := r.URL
	if len(inc.Affected) > 0 {
		name = inc.Affected[0].Page + "/" + inc.Affected[0].Link
		if len(inc.Affected) > 1 {
			name += fmt.Sprintf(" and %d more", len(inc.Affected)-1)
		}
	}
	return fmt.Sprintf("%s is %s (%s)", name, strings.ReplaceAll(string(r.Status), "_", " "), inc.Cause)
}

func mergeAffected(a, b []Affected) []Affected {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
