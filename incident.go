package linkwatch

import (
	"fmt"
	"time"
)

// IncidentStatus is an incident's public status, in the Statuspage vocabulary.
type IncidentStatus string

const (
	StatusInvestigating IncidentStatus = "investigating"
	StatusIdentified    IncidentStatus = "identified"
	StatusMonitoring    IncidentStatus = "monitoring"
	StatusResolved      IncidentStatus = "resolved"
)

// ValidIncidentStatus reports whether s is one of the four public statuses.
func ValidIncidentStatus(s IncidentStatus) bool {
	switch s {
	case StatusInvestigating, StatusIdentified, StatusMonitoring, StatusResolved:
		return true
	}
	return false
}

// Impact is how bad an incident is, in the Statuspage vocabulary.
type Impact string

const (
	ImpactNone     Impact = "none"
	ImpactMinor    Impact = "minor"    // degraded: rate limited, slow
	ImpactMajor    Impact = "major"    // some destinations down
	ImpactCritical Impact = "critical" // the hub's own redirects are wrong
)

// IncidentKind is what an incident is about, which decides its correlation key.
type IncidentKind string

const (
	KindDestination   IncidentKind = "destination"    // one destination URL
	KindHost          IncidentKind = "host"           // several destinations on one host, same cause
	KindHub           IncidentKind = "hub"            // the hub's own redirects (self-checks)
	KindProberOffline IncidentKind = "prober_offline" // our network, not theirs
	// KindCanary is the canary itself failing while destinations answer:
	// offline detection is off until it is back, so destination incidents
	// are no longer held for it.
	KindCanary IncidentKind = "canary"
	// KindRegional is a regional note: a destination failing from a
	// minority of the voting regions (probe.region). It is shown as
	// degraded and never alerts; if a majority comes to see the failure, a
	// real incident replaces it.
	KindRegional IncidentKind = "regional"
)

// Affected is a link that depends on a failing target: the dependency view.
// A link depends on its destination (URL) and on its fallback, if any.
type Affected struct {
	Page string `json:"page"`
	Link string `json:"link"`
	URL  string `json:"url"` // the link's destination
	// Fallback is the link's fallback destination, if it has one.
	Fallback string `json:"fallback,omitempty"`
	// Diverted, in an incident, says the link's visitors are being sent to
	// Fallback while its destination fails in this incident.
	Diverted bool `json:"diverted,omitempty"`
}

// Postmortem is the on-call engineer's notes on an incident.
type Postmortem struct {
	PrimaryCause        string    `json:"primary_cause"`
	ContributingFactors string    `json:"contributing_factors"`
	WhyNotCaught        string    `json:"why_not_caught"`
	Notes               string    `json:"notes"`
	Published           bool      `json:"published"` // shown on the public status page
	UpdatedAt           time.Time `json:"updated_at,omitzero"`
}

// Incident is one outage as the on-call engineer and the status page see it.
type Incident struct {
	ID        int64          `json:"id"`
	Key       string         `json:"key"` // correlation key: one open incident per key
	Kind      IncidentKind   `json:"kind"`
	Title     string         `json:"title"`
	Cause     Cause          `json:"cause"`
	Summary   string         `json:"summary"`
	Status    IncidentStatus `json:"status"`
	Impact    Impact         `json:"impact"`
	Flapping  bool           `json:"flapping"`
	Host      string         `json:"host,omitempty"`
	Targets   []string       `json:"targets"`  // every target that has failed in it
	Affected  []Affected     `json:"affected"` // links and pages depending on those targets
	StartedAt time.Time      `json:"started_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	// AlertsSuppressed is set while no opening alert has gone out because a
	// maintenance window covered the incident. The opening alert goes out
	// once the window ends with the incident still open; an incident that
	// resolves inside the window never alerts.
	AlertsSuppressed bool       `json:"alerts_suppressed"`
	AcknowledgedAt   time.Time  `json:"acknowledged_at,omitzero"`
	AcknowledgedBy   string     `json:"acknowledged_by,omitempty"`
	ResolvedAt       time.Time  `json:"resolved_at,omitzero"`
	Postmortem       Postmortem `json:"postmortem"`
	// Version counts the engine's changes to the incident. A change is
	// written only over the version it was computed from, so a replica
	// with a stale copy cannot overwrite another replica's newer state
	// (its write fails with ErrConflict; it reloads and recomputes).
	Version int64 `json:"-"`
}

// Open reports whether the incident is not resolved.
func (i Incident) Open() bool { return i.ResolvedAt.IsZero() }

// CheckAcknowledge refuses to acknowledge an incident that is resolved
// (nobody needs to be on it) or already acknowledged (the first person on
// it stays named), with ErrConflict.
func CheckAcknowledge(inc Incident) error {
	switch {
	case !inc.Open():
		return fmt.Errorf("incident %d is resolved: there is nothing to acknowledge: %w", inc.ID, ErrConflict)
	case !inc.AcknowledgedAt.IsZero():
		return fmt.Errorf("incident %d was already acknowledged by %s: %w", inc.ID, inc.AcknowledgedBy, ErrConflict)
	}
	return nil
}

// Components names what the incident covers, as maintenance windows name
// components: a window covering any of them covers the incident (the
// engine mutes its alerts; the status page shows it under maintenance).
func (i Incident) Components() []string {
	switch i.Kind {
	case KindHub:
		return []string{HubComponent}
	case KindProberOffline, KindCanary:
		return []string{ProberComponent}
	}
	var out []string
	if i.Host != "" {
		out = append(out, HostComponent(i.Host))
	}
	for _, id := range i.Targets {
		out = append(out, DestComponent(id))
	}
	for _, a := range i.Affected {
		out = append(out, PageComponent(a.Page))
	}
	return out
}

// EventKind names an entry of an incident's timeline.
type EventKind string

const (
	EventOpened       EventKind = "opened"
	EventTargetAdded  EventKind = "target_added" // another destination joined (host grouping)
	EventCauseChanged EventKind = "cause_changed"
	EventFlapping     EventKind = "flapping"
	EventAcknowledged EventKind = "acknowledged"
	EventUpdatePosted EventKind = "update_posted"
	EventPostmortem   EventKind = "postmortem_edited"
	EventResolved     EventKind = "resolved"
	// EventAnnounced: the opening alert went out after a maintenance window
	// that had muted it ended with the incident still open.
	EventAnnounced EventKind = "announced"
	// EventRegions: the regions' vote on the incident changed (a region
	// sees it failing too, or up again), or a regional note became an
	// incident.
	EventRegions EventKind = "regions"
	// EventNote is an operator's internal update: on the timeline, for
	// the team, never on the status page nor in an alert.
	EventNote EventKind = "note"
)

// EventFallbackOn and EventFallbackOff record a link's visitors being sent
// to its fallback, and back to its destination.
const (
	EventFallbackOn  EventKind = "fallback_on"
	EventFallbackOff EventKind = "fallback_off"
)

// ReasonFallback is the reason of an update alert that says visitors were
// switched to a fallback or back.
const ReasonFallback = "fallback"

// Event is one entry of an incident's timeline.
type Event struct {
	ID         int64     `json:"id"`
	IncidentID int64     `json:"incident_id"`
	At         time.Time `json:"at"`
	Kind       EventKind `json:"kind"`
	Body       string    `json:"body"`
}

// Update is a public incident update, shown on the status page.
type Update struct {
	ID         int64          `json:"id"`
	IncidentID int64          `json:"incident_id"`
	Status     IncidentStatus `json:"status"`
	Body       string         `json:"body"`
	CreatedAt  time.Time      `json:"created_at"`
}

// IncidentQuery selects incidents to list.
type IncidentQuery struct {
	Open  *bool     // only open (true) or resolved (false) ones; nil for both
	Since time.Time // started at or after
	Limit int       // at most this many (default 50)
	// Internal selects only incidents of internal kinds (true: the
	// prober's own) or only public ones (false); nil for both.
	Internal *bool
	// Page selects the incidents that affect a link of the page with this
	// slug; "" for every page.
	Page string
	// Cause selects the incidents of one root cause; "" for every cause.
	Cause Cause
}

// Affects reports whether the incident affects a link of the page slug.
func (i Incident) Affects(page string) bool {
	for _, a := range i.Affected {
		if a.Page == page {
			return true
		}
	}
	return false
}
