package incidents

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"linkwatch"
)

// Verdict is what one region's engine last concluded of one target: failing
// once the target crossed the failure threshold there (with the region's
// network proven), not failing once it recovered. A failing verdict is
// refreshed about once an interval while it holds; one that stops being
// refreshed (its replica died, the target moved) goes stale and no longer
// counts.
type Verdict struct {
	Target    string          `json:"target"`
	Region    string          `json:"region"`
	Failing   bool            `json:"failing"`
	Cause     linkwatch.Cause `json:"cause,omitempty"`
	Since     time.Time       `json:"since"` // when the region first saw the current state
	UpdatedAt time.Time       `json:"updated_at"`
}

// RegionHealth is one replica's proof of its region's network: whether
// its canary answered, recorded about once an interval. Each replica of a
// region has its own row (every replica checks the canary from its own
// network): one replica's broken network must not overwrite another's
// proof.
type RegionHealth struct {
	Region   string    `json:"region"`
	Replica  string    `json:"replica,omitempty"`
	CanaryOK bool      `json:"canary_ok"`
	At       time.Time `json:"at"`
}

// Vote is what the regions say of one target.
type Vote struct {
	// Voting are the regions that count: a fresh row with a healthy
	// canary, from any of the region's replicas (one whose own canary
	// fails holds its verdicts back, as prober-offline does).
	// When no fresh region has a healthy canary, the canary itself is the
	// outage, not every region's network, and every fresh region counts
	// (as one region does today when its canary is down: nothing is held).
	Voting []string
	// Failing are the voting regions with a fresh failing verdict; Up the
	// others (a voting region without a verdict has not seen it fail).
	Failing, Up []string
	// Cause is the cause named by the earliest failing verdict, and Since
	// when it began.
	Cause linkwatch.Cause
	Since time.Time
	// Ended is when the target's last incident or regional note ended
	// (zero: none kept). A failing verdict that began before it counts
	// for nothing: that region saw the failure before the end, and counts
	// again only once it has failed failure_threshold fresh checks after
	// it (its engine starts a new streak when it learns of the end). So a
	// region one check behind the others in seeing a recovery opens no
	// note, a note never reaches back into an incident, and a resolution
	// by hand is not undone by the next vote.
	Ended time.Time
}

// Majority reports whether more than half of the voting regions see the
// target failing: 1 of 1, 2 of 3, 3 of 4, never 1 of 2.
func (v Vote) Majority() bool {
	return len(v.Voting) > 0 && 2*len(v.Failing) > len(v.Voting)
}

// Minority reports whether some voting regions, but not a majority, see it
// failing: the case of a regional note.
func (v Vote) Minority() bool { return len(v.Failing) > 0 && !v.Majority() }

// Sentence names the regions that see the target failing and those that
// see it up: "failing from eu-west and us-east; us-west sees it up".
func (v Vote) Sentence() string {
	s := "failing from " + joinRegions(v.Failing)
	switch len(v.Up) {
	case 0:
	case 1:
		s += "; " + v.Up[0] + " sees it up"
	default:
		s += "; " + joinRegions(v.Up) + " see it up"
	}
	return s
}

// joinRegions lists region names in words: "a", "a and b", "a, b and c".
func joinRegions(rs []string) string {
	switch len(rs) {
	case 0:
		return "no region"
	case 1:
		return rs[0]
	}
	return strings.Join(rs[:len(rs)-1], ", ") + " and " + rs[len(rs)-1]
}

// regionFreshness is how many intervals a canary row or a failing verdict
// stays fresh without being written again: a replica that missed two
// heartbeats still counts, one that is gone stops counting.
const regionFreshness = 3

// Decide is the vote on one target from the regions' verdicts and canary
// rows and when the target's last incident or note ended (Vote.Ended), at
// now, where a row counts for fresh after it was written. It reads only
// what it is given, so any replica of any region reaches the same result
// from the same rows.
func Decide(target string, verdicts []Verdict, health []RegionHealth, ended, now time.Time, fresh time.Duration) Vote {
	isFresh := func(at time.Time) bool { return now.Sub(at) <= fresh }
	var live, healthy []string
	for _, h := range health {
		if !isFresh(h.At) {
			continue
		}
		if !slices.Contains(live, h.Region) {
			live = append(live, h.Region)
		}
		if h.CanaryOK && !slices.Contains(healthy, h.Region) {
			healthy = append(healthy, h.Region)
		}
	}
	v := Vote{Voting: healthy, Ended: ended}
	if len(healthy) == 0 {
		v.Voting = live
	}
	slices.Sort(v.Voting)
	failing := map[string]Verdict{}
	for _, vd := range verdicts {
		if vd.Target == target && vd.Failing && isFresh(vd.UpdatedAt) && !vd.Since.Before(ended) && slices.Contains(v.Voting, vd.Region) {
			failing[vd.Region] = vd
		}
	}
	for _, r := range v.Voting {
		vd, ok := failing[r]
		if !ok {
			v.Up = append(v.Up, r)
			continue
		}
		v.Failing = append(v.Failing, r)
		if v.Since.IsZero() || vd.Since.Before(v.Since) {
			v.Cause, v.Since = vd.Cause, vd.Since
		}
	}
	return v
}

// String is the vote for logs.
func (v Vote) String() string {
	return fmt.Sprintf("%d of %d voting regions failing (%s)", len(v.Failing), len(v.Voting), v.Sentence())
}
