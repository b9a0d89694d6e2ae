package shard

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"linkwatch"
	"linkwatch/errlog"
)

// Store keeps the heartbeat rows, and reckons their leases by the
// database's clock: the replicas' own clocks never meet. A backend may
// know a member to be dead before its lease ends (PostgreSQL: the session
// lock its connection held is gone, so the process is), and leaves it out
// of Members.
type Store interface {
	// Heartbeat writes m's row with the database's time as its heartbeat.
	Heartbeat(ctx context.Context, m linkwatch.Member) error
	// Members returns the live members of region: a heartbeat within the
	// last within of the database's time.
	Members(ctx context.Context, region string, within time.Duration) ([]linkwatch.Member, error)
	// Leave deletes m's row: its hosts move at the others' next look.
	Leave(ctx context.Context, id string) error
}

// Options configure a Membership.
type Options struct {
	// Interval is the probe interval: heartbeats go every Interval/3 and
	// the lease is 3 intervals, so a hung replica's hosts move after at
	// most 3 intervals and a dead one's (when the store can tell) within
	// one heartbeat.
	Interval time.Duration
	// Now is this process's clock (default time.Now). The leases are
	// reckoned by the database's; this one measures only how long this
	// replica could not reach the database (Lookback).
	Now func() time.Time
	// OnChange is called with each new assignment, from Run's goroutine.
	OnChange func(Assignment)
	Log      *slog.Logger
}

// Membership keeps this replica's heartbeat row and its view of the split.
type Membership struct {
	store Store
	self  linkwatch.Member
	opts  Options

	mu      sync.Mutex
	current Assignment
	lastOK  time.Time // the last heartbeat the store took (New, before the first)
	failing bool      // a heartbeat failed since lastOK
	beaten  bool      // the store took a heartbeat
	prompt  bool      // the first heartbeat was taken within a beat of New (sharing's first)
	cutOff  []span    // when this replica could not reach the store, oldest first, as long as they count
	// The last cut-off's ends: the start of its last failed heartbeat,
	// and the first heartbeat taken after it (zero: never cut off).
	failedAt, backAt time.Time
	// While this replica joins (its own split leaves it out), released
	// holds, of each other member of its region, the first heartbeat it
	// saw at or after its start plus half a beat: at that heartbeat, or
	// before, the member counted it (sharing) and gave its hosts away.
	// holders are the members that split the hosts meanwhile.
	joining  bool
	released map[string]time.Time
	holders  map[string]bool
}

// span is a stretch of this process's time.
type span struct{ from, to time.Time }

// leaseIntervals is how many intervals a heartbeat keeps a member live.
const leaseIntervals = 3

// NewID returns a member id unique to this process start: the host name
// (a pod's name on Kubernetes) and a random suffix.
func NewID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "linkwatch"
	}
	return strings.ToLower(host) + "-" + strings.ToLower(rand.Text()[:8])
}

// New returns the membership of self. Until Run's first heartbeat, the
// replica owns everything: a replica that cannot reach the database
// checks every target rather than none.
func New(store Store, self linkwatch.Member, opts Options) *Membership {
	if opts.Interval <= 0 {
		opts.Interval = linkwatch.DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OnChange == nil {
		opts.OnChange = func(Assignment) {}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Membership{store: store, self: self, opts: opts, current: Alone(self.ID), lastOK: opts.Now()}
}

// Self is this replica's member row.
func (m *Membership) Self() linkwatch.Member { return m.self }

// Lease is how long a heartbeat keeps a member live.
func (m *Membership) Lease() time.Duration { return leaseIntervals * m.opts.Interval }

// Lookback is how far back, by the database's clock, a heartbeat keeps a
// member live in this replica's eyes now: the lease, counting only the
// time this replica could reach the database. A member is dropped when
// this replica has seen a full lease of its silence, not a lease of
// silence it could not have seen. After a database outage, every lease
// has run out by the clock, and a replica that counted them so would find
// itself alone and take every host, while the others, back a heartbeat
// later, check theirs too. So each replica keeps the members it knew
// through the outage, for two beats (returnGrace) after its own first
// heartbeat back.
//
// After that grace, a member counts only if it was heard since the
// outage: every live replica re-announces itself as soon as it reaches
// the database again (Run tries every sixth of a beat while cut off), so
// one still silent two beats after this replica was back cannot reach
// the database, and is most likely dead: killed during the outage, its
// session lock lost with the server's restart, nothing else would ever
// prove it before its lease ran out, three intervals after the return.
// Its hosts move at this replica's third heartbeat back instead, about
// 0.7 of an interval after the return; a gained host is checked at its
// usual offset, so it goes unchecked for less than two intervals after
// the database's return. (A grace of one beat, as before, left a live
// replica whose reconnection took longer, under load at short intervals,
// counted dead, its hosts checked twice; one of an interval would move a
// dead one's hosts an interval and a retry after the return, too late
// for a host whose slot had just passed to be checked within two.) "Since the
// outage" is since the start of this replica's last failed heartbeat
// (the database was down then, or coming back), less a beat: a replica
// that was never cut off, its heartbeats a beat and a tick apart, is
// heard within it even when this one's failed heartbeat was a slow tick
// rather than an outage. All on this process's clock, as a duration: the
// database's clock reckons the lookback from its own now.
// A replica alive that cannot reach the database for two beats after the
// others can (a network cut between the two, a process stopped) is
// counted dead as one cut off for a lease is, and its hosts checked by
// both until it is back: telling it from a dead one needs the database.
func (m *Membership) Lookback() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookback(m.opts.Now())
}

// lookback is Lookback at now, under m.mu; it forgets the stretches cut
// off that no longer count.
func (m *Membership) lookback(now time.Time) time.Duration {
	left, t := m.Lease(), now
	i := len(m.cutOff) - 1
	for ; i >= 0; i-- {
		up := t.Sub(m.cutOff[i].to) // reaching the store
		if up >= left {
			break
		}
		left -= up
		t = m.cutOff[i].from
	}
	m.cutOff = m.cutOff[i+1:]
	within := now.Sub(t) + left
	if !m.backAt.IsZero() && now.Sub(m.backAt) >= m.returnGrace() {
		within = min(within, now.Sub(m.failedAt)+m.beat())
	}
	return within
}

// returnGrace is how long after its first heartbeat back from an outage a
// replica keeps the members it knew through it (Lookback).
func (m *Membership) returnGrace() time.Duration { return 2 * m.beat() }

// beat is the time between two heartbeats.
func (m *Membership) beat() time.Duration { return m.opts.Interval / 3 }

// Assignment returns the current split.
func (m *Membership) Assignment() Assignment {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.current
}

// Run heartbeats every beat (Interval/3) until ctx ends, then deletes its
// row so the others take its hosts at once (the caller stops probing
// first). While the heartbeats fail, it tries every sixth of a beat, each
// try cut short after a beat: a replica re-announces itself well within a
// beat of the database's return, which the others count on (Lookback).
// A heartbeat while they succeed may take up to an interval: a database
// slow under load is not an outage, and a heartbeat cut short as one
// would make this replica count only the members heard since, and take
// the hosts of those merely slow to answer.
func (m *Membership) Run(ctx context.Context) error {
	// The last split stays while heartbeats fail: checking a host twice
	// beats leaving it unchecked while the database does not answer.
	fails := &errlog.Reporter{Log: m.opts.Log, Msg: "replica membership: heartbeat failed; keeping the current split", Now: m.opts.Now}
	for {
		m.mu.Lock()
		failing := m.failing
		m.mu.Unlock()
		bound := m.opts.Interval
		if failing {
			bound = m.beat()
		}
		tctx, cancel := context.WithTimeout(ctx, bound)
		fails.Report(ctx, m.Tick(tctx))
		cancel()
		next := m.beat()
		m.mu.Lock()
		if m.failing {
			next /= 6
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := m.store.Leave(lctx, m.self.ID); err != nil {
				return fmt.Errorf("leave the replica membership: %w", err)
			}
			m.opts.Log.Info("left the replica membership", "member", m.self.ID)
			return nil
		case <-time.After(next):
		}
	}
}

// Tick writes one heartbeat and recomputes the split from the live
// members (Lookback) that share the hosts (sharing), calling OnChange when
// it moved. A failed heartbeat keeps the split: this replica goes on
// checking its share.
func (m *Membership) Tick(ctx context.Context) error {
	now := m.opts.Now()
	if err := m.store.Heartbeat(ctx, m.self); err != nil {
		m.mu.Lock()
		m.failing, m.failedAt = true, now
		m.mu.Unlock()
		return err
	}
	m.mu.Lock()
	if !m.beaten {
		m.beaten, m.prompt = true, !m.failing && now.Sub(m.lastOK) <= m.opts.Interval/3
	}
	if m.failing {
		// Cut off from the last heartbeat taken (from the start, for a
		// replica that started without the database) until this one.
		m.cutOff = append(m.cutOff, span{m.lastOK, now})
		m.failing, m.backAt = false, now
	}
	m.lastOK = now
	within := m.lookback(now)
	prompt := m.prompt
	m.mu.Unlock()
	live, err := m.store.Members(ctx, m.self.Region, within)
	if err != nil {
		return err
	}
	next := Assignment{Self: m.self.ID, Members: sharing(live, m.self, m.opts.Interval/3, prompt)}
	m.mu.Lock()
	next.Since = m.handedOver(live, next)
	changed := !next.Equal(m.current)
	prev := m.current
	m.current = next
	m.mu.Unlock()
	if changed {
		m.opts.Log.Info("replica membership changed", "member", m.self.ID, "region", m.self.Region,
			"members", len(next.Members), "were", len(prev.Members))
		m.opts.OnChange(next)
	}
	return nil
}

// sharing returns the ids, sorted, of the live members of self's region
// that split the hosts in self's eyes now: the live members, with a
// joining member held back so that its hosts never have two owners.
//
// Each replica recomputes its split only at its own heartbeats, a beat
// (Interval/3) and a tick's duration apart. A joiner that took its hosts
// at once, or at any instant all replicas agree on, would check them
// beside their old owners until each of those beat next. So the hand-over
// is ordered, by the database's clock: a member joins at its first
// heartbeat (its started_at); the others count it from half a beat after,
// and it counts itself from two beats after, at its third heartbeat. Every
// other replica beats in between (its first beat past the half is at
// most a beat and a half after the join), so has given the hosts away
// before the joiner takes them, with half a beat to spare for a late
// heartbeat. The hosts go unowned for a beat and a half at most, half an
// interval: a gained host is checked at its usual offset, so no host goes
// unchecked for more than 2 intervals. A member is counted at once when
// no live member joined before it: a replica alone, or the first of a
// fleet, has nobody to wait for. But not self, if it reached the store
// only a beat or more after it started (prompt false): it may have waited
// through a database outage, and then the replicas that outlived it are
// back only at their next heartbeat; until then their last heartbeat
// is older than self's lookback, self would find itself first and take
// every host beside them. It waits its two beats like any joiner.
//
// Now is self's own heartbeat, just written, as the database saw it. A
// process start is a new id (NewID), so a replica restarted joins anew.
func sharing(live []linkwatch.Member, self linkwatch.Member, beat time.Duration, prompt bool) []string {
	var now time.Time
	var first *linkwatch.Member // the member that joined first: ties go to the lower id
	for i, l := range live {
		if l.Region != self.Region {
			continue
		}
		if l.ID == self.ID {
			now = l.HeartbeatAt
		}
		if first == nil || l.StartedAt.Before(first.StartedAt) || (l.StartedAt.Equal(first.StartedAt) && l.ID < first.ID) {
			first = &live[i]
		}
	}
	if now.IsZero() {
		// The store did not return our own row: we are alive all the
		// same, and count with everyone as they are.
		first = nil
	}
	var ids []string
	for _, l := range live {
		if l.Region != self.Region {
			continue
		}
		wait := beat / 2
		if l.ID == self.ID {
			wait = 2 * beat
		}
		founds := first == nil || l.ID == first.ID && (prompt || l.ID != self.ID)
		if founds || !now.Before(l.StartedAt.Add(wait)) {
			ids = append(ids, l.ID)
		}
	}
	if now.IsZero() {
		ids = append(ids, self.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// releaseLag is how long after its heartbeat a member may still check the
// hosts it gives away at it: the heartbeat's time is the database's at
// the write, and the member reads the membership and hands its new split
// to its scheduler after.
func (m *Membership) releaseLag() time.Duration { return m.beat() / 6 }

// handedOver follows this replica's join, under m.mu: while next leaves it
// out, it notes each other member's first heartbeat since that member
// counted it (released); with the assignment that takes its hosts, it
// returns when the last of the members that held them stopped checking
// them, so the scheduler checks at once those whose slot was missed in
// between (schedule.Scheduler.HandOver). Zero when that is not known: for
// a replica that joined alone (it took its hosts at its first heartbeat,
// nobody gave them away), or when a member that held hosts while it
// joined is gone now, or has not been seen counting it: it may have
// checked them until just now.
func (m *Membership) handedOver(live []linkwatch.Member, next Assignment) time.Time {
	var start time.Time
	for _, l := range live {
		if l.ID == m.self.ID {
			start = l.StartedAt
		}
	}
	in := slices.Contains(next.Members, m.self.ID)
	if !in && !m.joining {
		m.joining, m.released, m.holders = true, map[string]time.Time{}, map[string]bool{}
	}
	if !m.joining {
		return time.Time{}
	}
	if !start.IsZero() {
		counted := start.Add(m.beat() / 2) // sharing's wait for a joiner
		for _, l := range live {
			if _, seen := m.released[l.ID]; l.Region == m.self.Region && l.ID != m.self.ID && !seen && !l.HeartbeatAt.Before(counted) {
				m.released[l.ID] = l.HeartbeatAt
			}
		}
	}
	for _, id := range next.Members {
		if id != m.self.ID {
			m.holders[id] = true
		}
	}
	if !in {
		return time.Time{}
	}
	released, holders := m.released, m.holders
	m.joining, m.released, m.holders = false, nil, nil
	var since time.Time
	for id := range holders {
		at, ok := released[id]
		if !ok || !slices.Contains(next.Members, id) {
			return time.Time{}
		}
		if at.After(since) {
			since = at
		}
	}
	if since.IsZero() {
		return time.Time{} // nobody held them
	}
	return since.Add(m.releaseLag())
}
