package incidents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"linkwatch"
)

// RegionStore is what the engine needs to vote with the engines of other
// regions (Config.Region): every region's verdicts on its targets and its
// canary's health, in the database they share.
type RegionStore interface {
	// RecordVerdict writes this region's verdict on one target.
	RecordVerdict(ctx context.Context, v Verdict) error
	// RecordRegion writes one replica's canary health (its own row),
	// writes again its failing verdicts (so they stay fresh; a failing one
	// keeps its Since) and forgets every verdict and canary row last
	// written before forgetBefore, in one transaction.
	RecordRegion(ctx context.Context, h RegionHealth, failing []Verdict, forgetBefore time.Time) error
	// Verdicts returns every region's verdicts on targets.
	Verdicts(ctx context.Context, targets []string) ([]Verdict, error)
	// Ends returns when the last incident or regional note of each of
	// targets ended (Change.Ends), for those that have one kept.
	Ends(ctx context.Context, targets []string) (map[string]time.Time, error)
	// Regions returns every replica's last canary health, by region.
	Regions(ctx context.Context) ([]RegionHealth, error)
	// OpenIncidentsOnHost returns the open incidents of one host: its
	// destinations' incidents, its host incidents and its regional note
	// (host "": the hub's incident and note, with the prober's own). A
	// vote on one target reads these rather than every open incident, so
	// a wide regional failure is not quadratic.
	OpenIncidentsOnHost(ctx context.Context, host string) ([]linkwatch.Incident, error)
}

// verdictsKept is how long a verdict nobody writes again is kept: long
// past stale (regionFreshness intervals), short enough that removed
// targets do not pile up.
const verdictsKept = time.Hour

// regional is an engine's part in the regions' vote: what this region has
// recorded of its targets, and when it last proved its network.
type regional struct {
	store    RegionStore
	name     string
	interval time.Duration
	seen     map[string]*regionSeen // by target
	beatAt   time.Time              // last canary row written, zero before the first
	beatOK   bool
	// voting is the vote behind an incident being opened, so its summary
	// names the regions (see summaryOf).
	voting map[string]Vote
}

// regionSeen is this region's recorded verdict on one target.
type regionSeen struct {
	failing bool
	since   time.Time
	// settled says the vote that followed the last recorded verdict was
	// acted on; until then every result of the target votes again.
	settled bool
}

func newRegional(cfg Config, store Store) (*regional, error) {
	rs, ok := store.(RegionStore)
	if !ok {
		return nil, fmt.Errorf("incidents: region %q: the store keeps no regional verdicts", cfg.Region)
	}
	return &regional{store: rs, name: cfg.Region, interval: cfg.Interval,
		seen: map[string]*regionSeen{}, voting: map[string]Vote{}}, nil
}

func (rg *regional) fresh() time.Duration { return regionFreshness * rg.interval }

func (rg *regional) seenOf(target string) *regionSeen {
	s := rg.seen[target]
	if s == nil {
		s = &regionSeen{settled: true}
		rg.seen[target] = s
	}
	return s
}

// recall takes in this region's recorded verdicts on those of targets it
// has no record of here: a replica taking a host over, or starting,
// continues its region's part where the previous owner left it.
func (rg *regional) recall(ctx context.Context, targets []string) error {
	targets = slices.DeleteFunc(targets, func(t string) bool { return rg.seen[t] != nil })
	if len(targets) == 0 {
		return nil
	}
	verdicts, err := rg.store.Verdicts(ctx, targets)
	if err != nil {
		return fmt.Errorf("incidents: read %s's verdicts: %w", rg.name, err)
	}
	for _, v := range verdicts {
		if v.Region == rg.name && rg.seen[v.Target] == nil {
			rg.seen[v.Target] = &regionSeen{failing: v.Failing, since: v.Since, settled: true}
		}
	}
	return nil
}

// recordedFailing reports whether this region's last verdict on target,
// as recorded here or recalled from the database, is failing.
func (rg *regional) recordedFailing(target string) bool {
	s := rg.seen[target]
	return s != nil && s.failing
}

// voted reports whether a target of kind takes part in the vote:
// destinations and the hub's self-checks do (a hub redirect wrong from
// one region only is a regional note, as a destination unreachable from
// one region only is). The canary does not: it decides which regions
// vote (see Decide and checkCanary).
func voted(kind linkwatch.TargetKind) bool {
	return kind == linkwatch.TargetDestination || kind == linkwatch.TargetSelfCheck
}

// canaryOK reports whether the canary answers (below its failure
// threshold), or there is none to ask.
func (e *Engine) canaryOK() bool {
	if e.cfg.CanaryID == "" {
		return true
	}
	c := e.targets[e.cfg.CanaryID]
	return c == nil || c.fails < e.cfg.FailureThreshold
}

// reaching returns the regions of the other replicas whose fresh canary
// rows say the canary answers (this region's name for another replica of
// it): while there are any, the canary is up, and a replica that fails
// it has lost its own network (checkCanary).
func (rg *regional) reaching(ctx context.Context, replica string, now time.Time) ([]string, error) {
	health, err := rg.store.Regions(ctx)
	if err != nil {
		return nil, fmt.Errorf("incidents: read the regions' canaries: %w", err)
	}
	var out []string
	for _, h := range health {
		if h.CanaryOK && now.Sub(h.At) <= rg.fresh() && !(h.Region == rg.name && h.Replica == replica) && !slices.Contains(out, h.Region) {
			out = append(out, h.Region)
		}
	}
	slices.Sort(out)
	return out, nil
}

// regionTick writes this region's canary row about once an interval (at
// once when the canary's health changed), with its failing verdicts, then
// votes again on every target this region sees failing without an
// incident and on every open regional note: a verdict that arrived late, a
// region that went stale or whose canary failed changes the outcome
// without any new crossing here.
func (e *Engine) regionTick(ctx context.Context) error {
	rg := e.regions
	now := e.now().UTC()
	ok := e.canaryOK()
	if !rg.beatAt.IsZero() && ok == rg.beatOK && now.Sub(rg.beatAt) < rg.interval && !now.Before(rg.beatAt) {
		return nil
	}
	var failing []Verdict
	for id, ts := range e.targets {
		s := rg.seen[id]
		if s == nil && ts.incident != nil && voted(ts.kind) && ts.fails >= e.cfg.FailureThreshold {
			// Restored from an open incident at start: still failing
			// here until it recovers.
			s = &regionSeen{failing: true, since: ts.incident.StartedAt, settled: true}
			rg.seen[id] = s
		}
		if s != nil && s.failing {
			failing = append(failing, Verdict{Target: id, Region: rg.name, Failing: true, Cause: lastCause(ts), Since: s.since, UpdatedAt: now})
		}
	}
	slices.SortFunc(failing, func(a, b Verdict) int { return cmp.Compare(a.Target, b.Target) })
	for id := range rg.seen {
		if e.targets[id] == nil {
			delete(rg.seen, id) // removed from the configuration
		}
	}
	if err := rg.store.RecordRegion(ctx, RegionHealth{Region: rg.name, Replica: e.cfg.Replica, CanaryOK: ok, At: now}, failing, now.Add(-verdictsKept)); err != nil {
		return fmt.Errorf("incidents: record region %s: %w", rg.name, err)
	}
	rg.beatAt, rg.beatOK = now, ok
	return e.revote(ctx)
}

func lastCause(ts *targetState) linkwatch.Cause {
	if len(ts.recent) > 0 {
		return ts.recent[len(ts.recent)-1].Cause
	}
	if ts.incident != nil {
		return ts.incident.Cause
	}
	return ""
}

// revote votes on the targets this region sees failing without an
// incident here, and on the targets of open regional notes. A target
// whose incident or note ended since this region began to see it failing
// starts a new streak here (restart).
func (e *Engine) revote(ctx context.Context) error {
	rg := e.regions
	open, err := e.store.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("incidents: read open incidents for the regions' vote: %w", err)
	}
	e.forgetResolved(e.openIncidents(), open)
	var targets []string
	for id, s := range rg.seen {
		if ts := e.targets[id]; s.failing && ts != nil && ts.incident == nil {
			targets = append(targets, id)
		}
	}
	for _, inc := range open {
		if inc.Kind == linkwatch.KindRegional {
			targets = append(targets, inc.Targets...)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	votes, err := e.poll(ctx, targets)
	if err != nil {
		return err
	}
	var errs []error
	noted := map[string]bool{} // note groups synced
	for _, id := range targets {
		v := votes[id]
		ts, s := e.targets[id], rg.seen[id]
		if ts != nil && s != nil && s.failing && ts.incident == nil && s.since.Before(v.Ended) {
			if err := e.restart(ctx, id, v.Ended); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if ts != nil && s != nil && s.failing && ts.incident == nil && v.Majority() && len(ts.recent) > 0 {
			errs = append(errs, e.escalate(ctx, ts, ts.recent[len(ts.recent)-1], v, open))
			noted[noteGroup(id)] = true // escalate synced its note
			continue
		}
		if g := noteGroup(id); !noted[g] {
			noted[g] = true
			errs = append(errs, e.syncNote(ctx, id, votes))
		}
	}
	return errors.Join(errs...)
}

// restart starts this region's failure streak on target again: its
// incident or note ended (at ended, by the vote or by hand) while this
// region saw it failing. Its failing verdict, begun before the end,
// counts for nothing now (Decide); it is written "not failing", and the
// target needs failure_threshold fresh failures here to count again, as a
// target still failing does after a resolution without regions. So a
// region one check behind the others in seeing a recovery never opens a
// note that reaches back into the incident.
func (e *Engine) restart(ctx context.Context, target string, ended time.Time) error {
	rg := e.regions
	now := e.now().UTC()
	v := Verdict{Target: target, Region: rg.name, Failing: false, Since: now, UpdatedAt: now}
	if err := rg.store.RecordVerdict(ctx, v); err != nil {
		return fmt.Errorf("incidents: record %s's verdict on %s: %w", rg.name, target, err)
	}
	s := rg.seenOf(target)
	s.failing, s.since, s.settled = false, now, true
	if ts := e.targets[target]; ts != nil && ts.incident == nil {
		e.resetFailures(ts)
	}
	e.log.Info("a target's incident or note ended while this region sees it failing: its failure counts again after failure_threshold fresh checks",
		"target", target, "ended", ended)
	return nil
}

// forgetResolved forgets those of held, incidents this engine holds open,
// that are not in open any more: another region's engine resolved them
// (the majority was lost there).
func (e *Engine) forgetResolved(held []*linkwatch.Incident, open []linkwatch.Incident) {
	for _, inc := range held {
		if inc != nil && !slices.ContainsFunc(open, func(o linkwatch.Incident) bool { return o.ID == inc.ID }) {
			e.log.Info("incident resolved by another region's engine", "incident", inc.ID)
			e.drop(inc)
		}
	}
}

// poll reads the verdicts on targets and the regions' canary rows and
// decides each target's vote.
func (e *Engine) poll(ctx context.Context, targets []string) (map[string]Vote, error) {
	rg := e.regions
	verdicts, err := rg.store.Verdicts(ctx, targets)
	if err != nil {
		return nil, fmt.Errorf("incidents: read the regions' verdicts: %w", err)
	}
	health, err := rg.store.Regions(ctx)
	if err != nil {
		return nil, fmt.Errorf("incidents: read the regions' canaries: %w", err)
	}
	ends, err := rg.store.Ends(ctx, targets)
	if err != nil {
		return nil, fmt.Errorf("incidents: read when the targets' incidents ended: %w", err)
	}
	now := e.now().UTC()
	out := make(map[string]Vote, len(targets))
	for _, id := range targets {
		out[id] = Decide(id, verdicts, health, ends[id], now, rg.fresh())
	}
	return out, nil
}

// pollOne votes on one target and reads the open incidents of its host.
func (e *Engine) pollOne(ctx context.Context, target string) (Vote, []linkwatch.Incident, error) {
	votes, err := e.poll(ctx, []string{target})
	if err != nil {
		return Vote{}, nil, err
	}
	open, err := e.openOnHost(ctx, target)
	return votes[target], open, err
}

// openOnHost reads the open incidents of target's host.
func (e *Engine) openOnHost(ctx context.Context, target string) ([]linkwatch.Incident, error) {
	open, err := e.regions.store.OpenIncidentsOnHost(ctx, linkwatch.HostOf(target))
	if err != nil {
		return nil, fmt.Errorf("incidents: read open incidents for the regions' vote: %w", err)
	}
	return open, nil
}

// failingVoted takes a target that crossed its failure threshold here, with
// this region's network proven, into an incident; with regions, only once
// a majority of the voting regions see it failing, and into a regional
// note before that.
func (e *Engine) failingVoted(ctx context.Context, r linkwatch.Result, ts *targetState) error {
	if e.regions == nil || !voted(r.Kind) {
		return e.failing(ctx, r, ts)
	}
	rg := e.regions
	s := rg.seenOf(r.TargetID)
	if !s.failing {
		// Written, and committed, before the vote is read: of two regions
		// crossing at once, the later reader sees both verdicts.
		v := Verdict{Target: r.TargetID, Region: rg.name, Failing: true, Cause: r.Cause, Since: ts.firstFail.UTC(), UpdatedAt: e.now().UTC()}
		if err := rg.store.RecordVerdict(ctx, v); err != nil {
			return fmt.Errorf("incidents: record %s's verdict on %s: %w", rg.name, r.TargetID, err)
		}
		s.failing, s.since, s.settled = true, v.Since, false
	}
	if s.settled {
		return nil // voted already; the region tick votes again
	}
	vote, open, err := e.pollOne(ctx, r.TargetID)
	if err != nil {
		return err
	}
	switch {
	case s.since.Before(vote.Ended):
		// This streak began before the target's last incident or note
		// ended (this region's network was not proven until now): it
		// counts for nothing, and starts again.
		err = e.restart(ctx, r.TargetID, vote.Ended)
	case vote.Majority():
		err = e.escalate(ctx, ts, r, vote, open)
	default:
		err = e.syncNote(ctx, r.TargetID, map[string]Vote{r.TargetID: vote})
	}
	if err == nil {
		s.settled = true
	}
	return err
}

// escalate takes a target that a majority of regions see failing into its
// incident: the one another region's engine opened already, or a new one.
// Its regional note, if any, gives way to it.
func (e *Engine) escalate(ctx context.Context, ts *targetState, r linkwatch.Result, vote Vote, open []linkwatch.Incident) error {
	rg := e.regions
	e.log.Info("a majority of regions see a target failing", "target", r.TargetID, "vote", vote.String())
	inc := realFor(r.TargetID, open)
	if inc != nil {
		// Linked once the line is written: a line refused as stale is
		// decided again, and written then.
		held, added := e.hold(*inc)
		if err := e.regionEvent(ctx, held, &vote, fmt.Sprintf("%s sees %s failing too: %s", rg.name, r.TargetID, vote.Sentence())); err != nil {
			if added && e.failingTargets(held) == 0 && e.open[held.Key] == held {
				delete(e.open, held.Key) // not joined: left to the regions that hold it
			}
			return err
		}
		e.link(ts, *held)
	} else {
		// Another region's engine may hold an incident of the same host,
		// or the hub's: this target joins it as it would here (host
		// correlation, one hub incident).
		adopted := e.adoptGroup(r, open)
		rg.voting[r.TargetID] = vote
		err := e.failing(ctx, r, ts)
		delete(rg.voting, r.TargetID)
		for _, inc := range adopted {
			if e.failingTargets(inc) == 0 && e.open[inc.Key] == inc {
				delete(e.open, inc.Key) // not joined: left to the regions that hold it
			}
		}
		if err != nil {
			// Another region's engine may have opened it a moment ago: one
			// open incident per key refused ours. Join that one.
			fresh, rerr := e.openOnHost(ctx, r.TargetID)
			if rerr != nil {
				return errors.Join(err, rerr)
			}
			found := realFor(r.TargetID, fresh)
			if found == nil {
				return err
			}
			e.log.Info("incident opened by another region's engine: joining it", "incident", found.ID, "target", r.TargetID)
			e.link(ts, *found)
			open = fresh
		}
	}
	return e.syncNote(ctx, r.TargetID, map[string]Vote{r.TargetID: vote})
}

// adoptGroup takes into memory the open incidents that r's target would
// join here, that this engine does not hold: its host's destination and
// host incidents, or the hub's incident for a self-check. So failing
// groups with them; it returns those it took in.
func (e *Engine) adoptGroup(r linkwatch.Result, open []linkwatch.Incident) []*linkwatch.Incident {
	host := linkwatch.HostOf(r.URL)
	joins := func(inc linkwatch.Incident) bool {
		if r.Kind == linkwatch.TargetSelfCheck {
			return inc.Key == hubKey
		}
		return (inc.Kind == linkwatch.KindDestination || inc.Kind == linkwatch.KindHost) && inc.Host == host
	}
	var out []*linkwatch.Incident
	for i := range open {
		inc := open[i]
		if !joins(inc) {
			continue
		}
		if held, added := e.hold(inc); added {
			out = append(out, held)
		}
	}
	return out
}

// recoveredVoted follows a target's successes; with regions, a target
// that recovers here records so, and its incident resolves only once no
// majority of the voting regions sees it failing any more. While one does,
// this region leaves the incident to them.
func (e *Engine) recoveredVoted(ctx context.Context, r linkwatch.Result, ts *targetState) error {
	if e.regions == nil || !voted(r.Kind) || ts.successes < e.cfg.SuccessThreshold {
		return e.recovered(ctx, r, ts)
	}
	rg := e.regions
	s := rg.seen[r.TargetID]
	if s == nil && ts.incident != nil {
		s = rg.seenOf(r.TargetID) // restored from an open incident: record its recovery
		s.failing = true
	}
	if s == nil || (!s.failing && s.settled) {
		return e.recovered(ctx, r, ts)
	}
	now := e.now().UTC()
	if s.failing {
		v := Verdict{Target: r.TargetID, Region: rg.name, Failing: false, Since: now, UpdatedAt: now}
		if err := rg.store.RecordVerdict(ctx, v); err != nil {
			return fmt.Errorf("incidents: record %s's verdict on %s: %w", rg.name, r.TargetID, err)
		}
		s.failing, s.since, s.settled = false, now, false
	}
	vote, open, err := e.pollOne(ctx, r.TargetID)
	if err != nil {
		return err
	}
	e.forgetResolved([]*linkwatch.Incident{ts.incident}, open)
	if inc := ts.incident; inc != nil && vote.Majority() {
		// Still failing from a majority elsewhere: their incident.
		if err := e.regionEvent(ctx, inc, &vote, fmt.Sprintf("%s sees %s up again; still %s", rg.name, r.TargetID, vote.Sentence())); err != nil {
			return err
		}
		e.unlink(ts)
		s.settled = true
		return nil
	}
	if err := e.recovered(ctx, r, ts); err != nil {
		return err
	}
	if ts.incident != nil {
		return nil // not stable yet (flapping): voted again with the next success
	}
	// What is left is a minority, or nothing: the note says so. Voted
	// again: if the incident just resolved, the regions still failing saw
	// it before the end and count for nothing until they fail again.
	if vote, _, err = e.pollOne(ctx, r.TargetID); err != nil {
		return err
	}
	if err := e.syncNote(ctx, r.TargetID, map[string]Vote{r.TargetID: vote}); err != nil {
		return err
	}
	s.settled = true
	return nil
}

// heldElsewhere reports whether, with regions, another target of inc
// than target is still seen failing by a majority of the voting regions:
// another region's engine holds it in the incident (this one may see it
// up), so the incident is not this region's to resolve.
func (e *Engine) heldElsewhere(ctx context.Context, inc *linkwatch.Incident, target string) (bool, error) {
	if e.regions == nil || (inc.Kind != linkwatch.KindDestination && inc.Kind != linkwatch.KindHost && inc.Kind != linkwatch.KindHub) {
		return false, nil // only destinations and self-checks are voted on
	}
	others := slices.DeleteFunc(slices.Clone(inc.Targets), func(t string) bool { return t == target })
	if len(others) == 0 {
		return false, nil
	}
	votes, err := e.poll(ctx, others)
	if err != nil {
		return false, err
	}
	for _, t := range others {
		if v := votes[t]; v.Majority() {
			e.log.Info("a target recovered here; another of its incident still fails from a majority of regions", "incident", inc.ID, "target", target, "still", t, "vote", v.String())
			return true, nil
		}
	}
	return false, nil
}

// link makes ts a target of inc, as the database has it, taking inc into
// memory if another region's engine opened or changed it.
func (e *Engine) link(ts *targetState, inc linkwatch.Incident) {
	ts.incident, _ = e.hold(inc)
	ts.held = false
	e.changed = true
}

// hold takes the database's copy of an open incident into memory and
// returns the engine's copy. An incident already held (by id: another
// engine may have changed its key, a destination incident become its
// host's) is brought up to date in place when the database's copy is
// newer, so every target linked to it follows and it is never held twice;
// another incident held under its key is one the database no longer has
// open under it, and is dropped.
func (e *Engine) hold(inc linkwatch.Incident) (held *linkwatch.Incident, added bool) {
	cur := e.openByID(inc.ID)
	if other := e.open[inc.Key]; other != nil && other != cur {
		e.drop(other)
	}
	if cur == nil {
		cur = &inc
		e.open[inc.Key] = cur
		e.changed = true
		return cur, true
	}
	if inc.Version > cur.Version {
		delete(e.open, cur.Key)
		*cur = inc
		e.open[cur.Key] = cur
		e.changed = true
	}
	return cur, false
}

// unlink takes ts out of its incident here; an incident left without a
// target of this region's is left to the regions that still see it fail.
func (e *Engine) unlink(ts *targetState) {
	inc := ts.incident
	ts.incident = nil
	e.changed = true
	if e.failingTargets(inc) == 0 && e.open[inc.Key] == inc {
		delete(e.open, inc.Key)
	}
}

// drop forgets an incident the database no longer has open: resolved by
// hand, or by the engine of another replica or region.
func (e *Engine) drop(inc *linkwatch.Incident) {
	if e.open[inc.Key] == inc {
		delete(e.open, inc.Key)
	}
	for _, ts := range e.targets {
		if ts.incident == inc {
			ts.incident = nil
			if e.regions == nil {
				// Resolved by hand or by another replica's engine: a
				// target still failing here starts a new streak, as after
				// a resolution made here, and opens a new incident only
				// after failure_threshold more failures. With regions the
				// vote resolves what a majority no longer sees, and this
				// region's failure goes on (its note says so).
				e.resetFailures(ts)
			}
		}
	}
	e.changed = true
}

// regionEvent adds a line to an incident's timeline about the regions'
// vote, and with a vote brings a destination incident's summary up to
// date with it; no alert: the outage did not change.
func (e *Engine) regionEvent(ctx context.Context, inc *linkwatch.Incident, vote *Vote, body string) error {
	now := e.now().UTC()
	c := Change{Incident: *inc, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventRegions, Body: body}}}
	c.Incident.UpdatedAt = now
	if vote != nil && inc.Kind == linkwatch.KindDestination {
		c.Incident.Summary = withRegions(inc.Summary, *vote)
	}
	return e.apply(ctx, inc, c, "regions' vote")
}

// summaryOf is an incident's summary from its opening result: with
// regions, it names those that see it failing and those that see it up.
func (e *Engine) summaryOf(r linkwatch.Result) string {
	if e.regions != nil {
		if v, ok := e.regions.voting[r.TargetID]; ok {
			return withRegions(r.Summary, v)
		}
	}
	return r.Summary
}

// withRegions is summary with the vote's sentence in place of any it had:
// "connection refused; failing from eu-west and us-east; us-west sees it up".
func withRegions(summary string, v Vote) string {
	base, _, _ := strings.Cut(summary, "; failing from ")
	return base + "; " + v.Sentence()
}

// realFor returns the open incident (not a regional note) that holds
// target, or nil.
func realFor(target string, open []linkwatch.Incident) *linkwatch.Incident {
	for i := range open {
		if open[i].Kind != linkwatch.KindRegional && slices.Contains(open[i].Targets, target) {
			return &open[i]
		}
	}
	return nil
}

// noteGroup is the key of the regional note target belongs in: its host's,
// or the hub's for a self-check.
func noteGroup(target string) string {
	if linkwatch.IsSelfCheck(target) {
		return linkwatch.RegionalHubKey
	}
	return linkwatch.RegionalKey(linkwatch.HostOf(target))
}

// noteFor returns the open regional note that notes target, or else the
// open note of its group, or nil.
func noteFor(target string, open []linkwatch.Incident) *linkwatch.Incident {
	var group *linkwatch.Incident
	for i := range open {
		switch {
		case open[i].Kind != linkwatch.KindRegional:
		case slices.Contains(open[i].Targets, target):
			return &open[i]
		case open[i].Key == noteGroup(target):
			group = &open[i]
		}
	}
	return group
}

// syncNote makes the regional note of target's group (its host, or the
// hub) what the votes say: it notes the group's targets that some voting
// regions, but no incident, see failing — one note for a host as one
// incident for a host, naming the regions — and resolves once it notes
// none. votes has target's vote and may have others'; the note's other
// targets are voted here. The note and the incidents are read here, just
// before the note is written: notes are never held in memory, and any
// region's engine may have changed them. Notes are never alerted: a
// failure seen from a minority of regions is most likely the network
// between them and the destination, not the destination, and nobody can
// fix it at 3 a.m.
func (e *Engine) syncNote(ctx context.Context, target string, votes map[string]Vote) error {
	open, err := e.openOnHost(ctx, target)
	if err != nil {
		return err
	}
	note := noteFor(target, open)
	group := []string{target}
	if note != nil {
		group = append(group, note.Targets...)
	}
	slices.Sort(group)
	group = slices.Compact(group)
	var missing []string
	for _, t := range group {
		if _, ok := votes[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		more, err := e.poll(ctx, missing)
		if err != nil {
			return err
		}
		votes = maps.Clone(votes)
		maps.Copy(votes, more)
	}
	// noted are the targets some voting region, but no incident, sees
	// failing; left are those the note had and lets go.
	var noted, left []string
	for _, t := range group {
		if len(votes[t].Failing) > 0 && realFor(t, open) == nil {
			noted = append(noted, t)
		} else if note != nil && slices.Contains(note.Targets, t) {
			left = append(left, t)
		}
	}
	now := e.now().UTC()
	var events []linkwatch.Event
	for _, t := range left {
		events = append(events, linkwatch.Event{At: now, Kind: linkwatch.EventRegions, Body: leftNote(t, votes[t], realFor(t, open))})
	}
	switch {
	case len(noted) == 0 && note == nil:
		return nil
	case len(noted) == 0:
		next := *note
		next.Status, next.ResolvedAt, next.UpdatedAt = linkwatch.StatusResolved, now, now
		events[len(events)-1].Kind = linkwatch.EventResolved
		c := Change{Incident: next, Events: events}
		for _, t := range left {
			if realFor(t, open) == nil {
				c.Ends = append(c.Ends, t) // taken over by an incident, it goes on there
			}
		}
		if _, err := e.store.Record(ctx, c); err != nil {
			return fmt.Errorf("incidents: resolve regional note %d: %w", note.ID, err)
		}
		e.log.Info("regional note resolved", "incident", note.ID, "target", target, "why", events[len(events)-1].Body)
	case note == nil:
		view := noteView(noted, votes)
		inc := linkwatch.Incident{Key: noteGroup(target), Kind: linkwatch.KindRegional, Host: linkwatch.HostOf(target), Cause: view.Cause,
			Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMinor, Targets: noted, StartedAt: view.Since, UpdatedAt: now}
		e.describeNote(&inc, view)
		saved, err := e.store.Record(ctx, Change{Incident: inc, Events: []linkwatch.Event{{At: now, Kind: linkwatch.EventOpened, Body: notedSentence(noted, votes)}}})
		if err != nil {
			// Another region's engine may have opened it a moment ago:
			// the next vote notes it there.
			return fmt.Errorf("incidents: open regional note on %s: %w", target, err)
		}
		e.log.Warn("regional note opened (not paged)", "incident", saved.ID, "targets", noted, "vote", view.String())
	default:
		// Written over the note's version: if another region's engine
		// resolved or changed it since it was read, the write is refused
		// (ErrConflict) and the target is voted on again.
		view := noteView(noted, votes)
		next := *note
		next.Targets, next.Cause, next.UpdatedAt = noted, view.Cause, now
		e.describeNote(&next, view)
		for _, t := range noted {
			if !slices.Contains(note.Targets, t) {
				events = append(events, linkwatch.Event{At: now, Kind: linkwatch.EventTargetAdded, Body: t + " too: " + votes[t].Sentence()})
			}
		}
		if len(events) == 0 && next.Title == note.Title && next.Summary == note.Summary {
			return nil
		}
		if len(events) == 0 {
			events = []linkwatch.Event{{At: now, Kind: linkwatch.EventRegions, Body: notedSentence(noted, votes)}}
		}
		if _, err := e.store.Record(ctx, Change{Incident: next, Events: events}); err != nil {
			return fmt.Errorf("incidents: update regional note %d: %w", note.ID, err)
		}
	}
	// target's incident, held here, tells where it was first seen.
	if inc := realFor(target, open); note != nil && slices.Contains(left, target) && inc != nil {
		if held := e.openByID(inc.ID); held != nil {
			return e.regionEvent(ctx, held, nil, fmt.Sprintf("first seen from a minority of regions, from %s (regional note #%d: %s)",
				note.StartedAt.UTC().Format(time.RFC3339), note.ID, note.Summary))
		}
	}
	return nil
}

// leftNote says why a note lets go of target.
func leftNote(target string, v Vote, inc *linkwatch.Incident) string {
	switch {
	case inc != nil:
		return fmt.Sprintf("%s: seen failing from a majority of regions: incident #%d (%s)", target, inc.ID, v.Sentence())
	case len(v.Voting) == 0:
		return target + ": no region votes any more"
	}
	return target + ": every voting region sees it up again (" + joinRegions(v.Voting) + ")"
}

// noteView is the vote of a note's targets taken together: the regions
// that see any of them failing, the others that vote, and the earliest
// failure's cause and start.
func noteView(noted []string, votes map[string]Vote) Vote {
	var out Vote
	for _, t := range noted {
		v := votes[t]
		for _, r := range v.Failing {
			if !slices.Contains(out.Failing, r) {
				out.Failing = append(out.Failing, r)
			}
		}
		for _, r := range v.Voting {
			if !slices.Contains(out.Voting, r) {
				out.Voting = append(out.Voting, r)
			}
		}
		if out.Since.IsZero() || v.Since.Before(out.Since) {
			out.Cause, out.Since = v.Cause, v.Since
		}
	}
	slices.Sort(out.Failing)
	slices.Sort(out.Voting)
	for _, r := range out.Voting {
		if !slices.Contains(out.Failing, r) {
			out.Up = append(out.Up, r)
		}
	}
	return out
}

// notedSentence is the timeline line of a note's vote: the one target's
// sentence, or each target's.
func notedSentence(noted []string, votes map[string]Vote) string {
	if len(noted) == 1 {
		return votes[noted[0]].Sentence()
	}
	var parts []string
	for _, t := range noted {
		parts = append(parts, t+": "+votes[t].Sentence())
	}
	return strings.Join(parts, "; ")
}

// describeNote sets a note's title, summary and affected links from its
// targets and their regions: "acme/shop is unreachable from eu-west",
// "shop.example: 2 destinations unreachable from eu-west", "Hub
// redirects failing from eu-west".
func (e *Engine) describeNote(inc *linkwatch.Incident, v Vote) {
	var affected []linkwatch.Affected
	for _, t := range inc.Targets {
		affected = linkwatch.MergeAffected(affected, e.dependents(t))
	}
	inc.Affected = affected
	from := joinRegions(v.Failing)
	what := "unreachable from " + from
	switch {
	case inc.Key == linkwatch.RegionalHubKey:
		inc.Title = "Hub redirects failing from " + from
		what = "failing from " + from
	case len(inc.Targets) == 1:
		inc.Title = fmt.Sprintf("%s is unreachable from %s", linkName(e.dependents(inc.Targets[0]), inc.Targets[0]), from)
	default:
		inc.Title = fmt.Sprintf("%s: %d destinations unreachable from %s", inc.Host, len(inc.Targets), from)
	}
	inc.Summary = fmt.Sprintf("%s (%s)", what, v.Cause)
	if len(v.Up) > 0 {
		inc.Summary += fmt.Sprintf("; %s %s: a regional network problem, not an outage", joinRegions(v.Up),
			map[bool]string{true: "sees it up", false: "see it up"}[len(v.Up) == 1])
	}
}

// linkName names a destination by the links that use it: "acme/shop",
// "acme/shop and 2 more", or its URL.
func linkName(affected []linkwatch.Affected, target string) string {
	if len(affected) == 0 {
		return target
	}
	name := affected[0].Page + "/" + affected[0].Link
	if len(affected) > 1 {
		name += fmt.Sprintf(" and %d more", len(affected)-1)
	}
	return name
}
