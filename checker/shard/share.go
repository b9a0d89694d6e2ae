package shard

import (
	"sync"

	"linkwatch"
)

// TargetSetter is the scheduler, as a Share feeds it.
type TargetSetter interface {
	SetTargets([]linkwatch.Target)
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
// when that is still ahead), and the engine, which forgets the targets
// given away and continues the incidents of those it gained.
type Share struct {
	sched  TargetSetter
	engine OwnershipSetter

	mu  sync.Mutex
	all []linkwatch.Target
	as  Assignment
}

// NewShare returns the share of all that as gives this replica.
func NewShare(sched TargetSetter, engine OwnershipSetter, all []linkwatch.Target, as Assignment) *Share {
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
	p.sched.SetTargets(p.as.Filter(p.all))
	p.engine.SetOwnership(as.OwnsID)
}
