// Package shard splits the prober's targets among the replicas that share
// one database: a membership of heartbeat rows with a lease, and
// rendezvous (highest-random-weight) hashing of each destination's host
// over the live members of one region. Every replica computes the same
// split from the same member list, with no coordinator.
package shard

import (
	"hash/fnv"
	"slices"
	"time"

	"linkwatch"
)

// selfHost is the one "host" of the hub's own redirects: its self-checks
// stay together on one replica, which checks them through its own listener.
const selfHost = "\x00self"

// Key is what a target is split by: its destination's host name, so one
// host's links stay on one replica and host correlation still sees them
// together. shared is true for a target every replica checks itself: the
// canary is each replica's proof of its own network.
func Key(t linkwatch.Target) (key string, shared bool) {
	switch t.Kind {
	case linkwatch.TargetCanary:
		return "", true
	case linkwatch.TargetSelfCheck:
		return selfHost, false
	}
	return linkwatch.HostOf(t.URL), false
}

// KeyOfID is Key for a target known by its id alone (an incident's
// targets): a destination's id is its URL.
func KeyOfID(id string) (key string, shared bool) {
	switch {
	case linkwatch.IsCanary(id):
		return "", true
	case linkwatch.IsSelfCheck(id):
		return selfHost, false
	}
	return linkwatch.HostOf(id), false
}

// weight is a member's score for a key: the key goes to the member that
// scores highest. FNV-1a alone mixes its last bytes poorly, so the sum is
// finished with splitmix64's mixer.
func weight(member, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Owner returns which of members owns key ("" when there are none). A
// member joining takes only the keys it now scores highest for, and a
// member leaving gives away only its own: about 1/N of the keys move.
func Owner(key string, members []string) string {
	var best string
	var bestW uint64
	for _, m := range members {
		w := weight(m, key)
		if best == "" || w > bestW || (w == bestW && m < best) {
			best, bestW = m, w
		}
	}
	return best
}

// Assignment is one replica's view of the split: itself and the members
// of its region that share the hosts, itself included unless it is still
// joining (then it owns only the shared targets).
type Assignment struct {
	Self    string
	Members []string // sorted
	// Since is set on the assignment with which a joiner takes its hosts:
	// by then, by the database's clock, every member that held them had
	// stopped checking them (Membership.handedOver). A slot of theirs
	// after it was missed. Zero otherwise, and when that is not known.
	Since time.Time
}

// Alone is the assignment of a replica that shares nothing: it owns every
// target (SQLite, one process).
func Alone(self string) Assignment { return Assignment{Self: self, Members: []string{self}} }

// Owns reports whether this replica checks t.
func (a Assignment) Owns(t linkwatch.Target) bool {
	return a.owns(Key(t))
}

// OwnsID reports whether this replica checks the target with this id.
func (a Assignment) OwnsID(id string) bool {
	return a.owns(KeyOfID(id))
}

func (a Assignment) owns(key string, shared bool) bool {
	// Not "one member owns everything": while this replica joins, the
	// one member may be another (Membership's sharing).
	return shared || Owner(key, a.Members) == a.Self
}

// Filter returns the targets this replica checks, in their order.
func (a Assignment) Filter(targets []linkwatch.Target) []linkwatch.Target {
	return slices.DeleteFunc(slices.Clone(targets), func(t linkwatch.Target) bool { return !a.Owns(t) })
}

// Equal reports whether two assignments split alike (whatever their
// Since).
func (a Assignment) Equal(b Assignment) bool {
	return a.Self == b.Self && slices.Equal(a.Members, b.Members)
}
