package shard

import (
	"sync"
	"time"

	"linkwatch"
)

// TargetSetter takes a new list of the targets to check: a Share takes a
// reloaded config's, the scheduler a Share's.
type TargetSetter interface {
	SetTargets([]linkwatch.Target)
}

// Scheduler is the prober's scheduler, as a Share feeds it.
type Scheduler interface {
	TargetSetter
	// HandOver is SetTargets for targets handed over by replicas that
	// all stopped checking them by since: a slot of theirs missed in
	// between is made up at once.
	HandOver(targets []linkwatch.Target, since time.Time)
}

// OwnershipSetter is the incident engine, as a Share tells it what this
// replica owns.
type OwnershipSetter interface {
	SetOwnership(owns func(target string) bool)
}

// Share is the part of the targets this replica checks: every configured
// target (replaced on reload) filtered by the replicas' split (replaced
// when membership changes). Each change reaches the scheduler, which
// checks a target it gained at its stable offset (in the current interval
// when that is still ahead; at once, too, when a joiner takes one whose
// slot was missed while it changed hands), and the engine, which forgets
// the targets given away and continues the incidents of those it gained.
type Share struct {
	sched  Scheduler
	engine OwnershipSetter

	mu  sync.Mutex
	all []linkwatch.Target
	as  Assignment
}

// NewShare returns the share of all that as gives this replica.
func NewShare(sched Scheduler, engine OwnershipSetter, all []linkwatch.Target, as Assignment) *Share {
	return &Share{sched: sched, engine: engine, all: all, as: as}
}

// Owned returns the targets this replica checks now.
func (p *Share) Owned() []linkwatch.Target {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.as.Filter(p.all)
}

// SetTargets takes a reloaded config's targets.
//
// The list is computed and handed on under p.mu, here and in
// SetAssignment: a reload and a membership change arriving together
// would otherwise each compute a list and could hand them on in the
// other order, leaving the scheduler with a list from the old split (or
// the old config) until the next change.
func (p *Share) SetTargets(all []linkwatch.Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all = all
	p.sched.SetTargets(p.as.Filter(p.all))
}

// SetAssignment takes a new split of the targets among the replicas:
// Options.OnChange of the Membership.
func (p *Share) SetAssignment(as Assignment) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.as = as
	if as.Since.IsZero() {
		p.sched.SetTargets(p.as.Filter(p.all))
	} else {
		p.sched.HandOver(p.as.Filter(p.all), as.Since)
	}
	p.engine.SetOwnership(as.OwnsID)
}
