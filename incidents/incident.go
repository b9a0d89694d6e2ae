// Package incidents turns check results into incidents: thresholds, host
// correlation, prober-offline suppression, flapping and maintenance, with a
// timeline, public updates and postmortem notes for each incident.
package incidents

import (
	"fmt"
	"time"

	"linkwatch/checker"
	"linkwatch/checker/ids"
)

// Status is an incident's public status, in the Statuspage vocabulary.
type Status string

const (
	StatusInvestigating Status = "investigating"
	StatusIdentified    Status = "identified"
	StatusMonitoring    Status = "monitoring"
	StatusResolved      Status = "resolved"
)

// ValidStatus reports whether s is one of the four public statuses.
func ValidStatus(s Status) bool {
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

// Kind is what an incident is about, which decides its correlation key.
type Kind string

const (
	KindDestination   Kind = "destination"    // one destination URL
	KindHost          Kind = "host"           // several destinations on one host, same cause
	KindHub           Kind = "hub"            // the hub's own redirects (self-checks)
	KindProberOffline Kind = "prober_offline" // our network, not theirs
	// KindCanary is the canary itself failing while destinations answer:
	// offline detection is off until it is back, so destination incidents
	// are no longer held for it.
	KindCanary Kind = "canary"
	// KindRegional is a regional note: a destination failing from a
	// minority of the voting regions (probe.region). It is shown as
	// degraded and never alerts; if a majority comes to see the failure, a
	// real incident replaces it.
	KindRegional Kind = "regional"
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
	ID        int64         `json:"id"`
	Key       string        `json:"key"` // correlation key: one open incident per key
	Kind      Kind          `json:"kind"`
	Title     string        `json:"title"`
	Cause     checker.Cause `json:"cause"`
	Summary   string        `json:"summary"`
	Status    Status        `json:"status"`
	Impact    Impact        `json:"impact"`
	Flapping  bool          `json:"flapping"`
	Host      string        `json:"host,omitempty"`
	Targets   []string      `json:"targets"`  // every target that has failed in it
	Affected  []Affected    `json:"affected"` // links and pages depending on those targets
	StartedAt time.Time     `json:"started_at"`
	UpdatedAt time.Time     `json:"updated_at"`
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
		return []string{ids.Hub}
	case KindProberOffline, KindCanary:
		return []string{ids.Prober}
	}
	var out []string
	if i.Host != "" {
		out = append(out, ids.Host(i.Host))
	}
	for _, id := range i.Targets {
		out = append(out, ids.Dest(id))
	}
	for _, a := range i.Affected {
		out = append(out, ids.Page(a.Page))
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
)

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
	ID         int64     `json:"id"`
	IncidentID int64     `json:"incident_id"`
	Status     Status    `json:"status"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"created_at"`
}

// Maintenance is a window in which checks run and are recorded but no
// incident alerts go out. An empty Component means every component.
type Maintenance struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Component string    `json:"component"` // "" (global), "hub", "page:<slug>", "host:<host>" or "dest:<url>"
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedAt time.Time `json:"created_at"`
}

// Covers reports whether the window is active at t for any of components.
func (m Maintenance) Covers(t time.Time, components []string) bool {
	if t.Before(m.StartsAt) || !t.Before(m.EndsAt) {
		return false
	}
	if m.Component == "" {
		return true
	}
	for _, c := range components {
		if c == m.Component {
			return true
		}
	}
	return false
}

// AlertType is the type of an alert, as in the webhook body.
type AlertType string

const (
	AlertOpened   AlertType = "incident.opened"
	AlertUpdated  AlertType = "incident.updated"
	AlertResolved AlertType = "incident.resolved"
)

// Alert is an outbox message: written in the same transaction as the
// incident change that caused it, delivered later by the alerting
// dispatcher. EventID is stable, so receivers can drop duplicates.
type Alert struct {
	EventID    string    `json:"event_id"`
	Type       AlertType `json:"type"`
	IncidentID int64     `json:"incident_id"`
	CreatedAt  time.Time `json:"created_at"`
	// Reason says what changed for an update: "target_added", "cause_changed",
	// "flapping", "fallback", "update_posted", "acknowledged" (the
	// incident's AcknowledgedBy says who).
	Reason string `json:"reason,omitempty"`
	// Incident is the incident as it was when the alert was made.
	Incident Incident `json:"incident"`
	// LastResult is the newest failing result behind the change, if any:
	// the evidence an on-call engineer reads first.
	LastResult *checker.Result `json:"last_result,omitempty"`
	// Added lists the links that joined the incident with this alert
	// (reason target_added). Updates grouped within alerts.group_interval
	// carry every link added in the group.
	Added []Affected `json:"added,omitempty"`
	// Update is the operator's public update (reason update_posted, or a
	// resolution by hand), so every channel carries its text.
	Update *Update `json:"update,omitempty"`
}

// Merge folds a later alert of the same incident and reason into a, for
// alerts grouped within alerts.group_interval: the incident as it is now,
// the newest evidence, and every link added in the group. a keeps its event
// id, so a receiver sees one message.
func (a Alert) Merge(later Alert) Alert {
	out := a
	out.Incident = later.Incident
	if later.LastResult != nil {
		out.LastResult = later.LastResult
	}
	out.Added = mergeAffected(a.Added, later.Added)
	return out
}

// Delivery is one outbox alert on its way to one channel.
type Delivery struct {
	ID       int64
	Channel  string
	Attempts int       // attempts made before this one
	FirstAt  time.Time // first attempt, zero before it
	NextAt   time.Time
	Alert    Alert
}

// Outcome is what became of a delivery attempt.
type Outcome struct {
	Status     string // sent | pending | dead | disabled
	NextAt     time.Time
	HTTPStatus int
	Error      string // redacted
}

// DeliveryLog is one alert delivery to one channel, for the admin API.
type DeliveryLog struct {
	ID         int64     `json:"id"`
	EventID    string    `json:"event_id"`
	Type       AlertType `json:"type"`
	IncidentID int64     `json:"incident_id"`
	Channel    string    `json:"channel"`
	Status     string    `json:"status"` // pending | sent | dead | disabled
	Attempts   int       `json:"attempts"`
	LastStatus int       `json:"last_status,omitempty"` // HTTP status of the last attempt
	LastError  string    `json:"last_error,omitempty"`  // redacted
	NextAt     time.Time `json:"next_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// CreatedAt is when the alert was made; FirstAt the first attempt of
	// the current round; Redeliveries how often an operator queued it
	// again (redeliver, replay).
	CreatedAt    time.Time `json:"created_at,omitzero"`
	FirstAt      time.Time `json:"first_at,omitzero"`
	Redeliveries int       `json:"redeliveries"`
}

// ChannelState is an alert channel as the admin API shows it.
type ChannelState struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// DisabledAt and Reason say when and why it was switched off (a
	// receiver answering 410 Gone, or an operator).
	DisabledAt time.Time `json:"disabled_at,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	// Deliveries counts its deliveries by status (pending, sent, dead, disabled).
	Deliveries map[string]int64 `json:"deliveries"`
}
