package linkwatch

import (
	"slices"
	"strconv"
	"time"
)

// AlertType is the type of an alert, as in the webhook body.
type AlertType string

const (
	AlertOpened   AlertType = "incident.opened"
	AlertUpdated  AlertType = "incident.updated"
	AlertResolved AlertType = "incident.resolved"
)

// The alerts about linkwatch's own database, as one replica sees it: it
// cannot commit a write (for alerts.database_outage_after), and it can
// again. They are sent from memory to the config file's channels, never
// through the outbox (it is in that database), so never to subscriptions.
const (
	AlertStorageUnreachable AlertType = "storage.unreachable"
	AlertStorageReachable   AlertType = "storage.reachable"
)

// ReasonTest is the reason of a test alert (linkwatch test-alert, the
// console's "send test"): an incident.updated that no incident is behind,
// sent straight to one channel, never through the outbox.
const ReasonTest = "test"

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
	LastResult *Result `json:"last_result,omitempty"`
	// Added lists the links that joined the incident with this alert
	// (reason target_added). Updates grouped within alerts.group_interval
	// carry every link added in the group.
	Added []Affected `json:"added,omitempty"`
	// Update is the operator's public update (reason update_posted, or a
	// resolution by hand), so every channel carries its text: of updates
	// grouped within alerts.group_interval, the newest.
	Update *Update `json:"update,omitempty"`
	// Earlier are the public updates grouped before Update, oldest first
	// (Updates gives them all).
	Earlier []Update `json:"earlier_updates,omitempty"`
	// Maintenance is the window of a maintenance alert (IsMaintenance).
	Maintenance *Maintenance `json:"maintenance,omitempty"`
}

// Merge folds a later alert of the same incident and reason into a, for
// alerts grouped within alerts.group_interval: the incident as it is now,
// the newest evidence, every link added and every public update posted in
// the group, in order. a keeps its event id, so a receiver sees one
// message.
func (a Alert) Merge(later Alert) Alert {
	out := a
	out.Incident = later.Incident
	if later.LastResult != nil {
		out.LastResult = later.LastResult
	}
	out.Added = MergeAffected(a.Added, later.Added)
	if ups := append(a.Updates(), later.Updates()...); len(ups) > 0 {
		out.Earlier, out.Update = nil, &ups[len(ups)-1]
		if len(ups) > 1 {
			out.Earlier = ups[: len(ups)-1 : len(ups)-1]
		}
	}
	return out
}

// Updates returns the operator's public updates the alert carries, oldest
// first: those grouped before Update, then Update; nil for none.
func (a Alert) Updates() []Update {
	out := slices.Clone(a.Earlier)
	if a.Update != nil {
		out = append(out, *a.Update)
	}
	return out
}

// MergeAffected adds the links of b that a lacks; a link is its page, slug
// and destination, whatever its fallback state in a.
func MergeAffected(a, b []Affected) []Affected {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y Affected) bool { return y.Page == x.Page && y.Link == x.Link && y.URL == x.URL }) {
			out = append(out, x)
		}
	}
	return out
}

// The alerts about maintenance windows, for the status page's email
// subscribers alone (the fan-out gives them to no other channel; the
// webhook schema, Slack and Sentry know only incidents): a window is
// scheduled (written with it), starts and ends (written once each by the
// singleton job that watches the database clock), or is cancelled
// (written when a window announced as scheduled is deleted before it
// starts). Their IncidentID is 0 and Maintenance holds the window.
const (
	AlertMaintenanceScheduled AlertType = "maintenance.scheduled"
	AlertMaintenanceStarted   AlertType = "maintenance.started"
	AlertMaintenanceEnded     AlertType = "maintenance.ended"
	AlertMaintenanceCancelled AlertType = "maintenance.cancelled"
)

// IsMaintenance reports whether t is an alert about a maintenance window.
func (t AlertType) IsMaintenance() bool {
	return t == AlertMaintenanceScheduled || t == AlertMaintenanceStarted || t == AlertMaintenanceEnded || t == AlertMaintenanceCancelled
}

// MaintenanceAlert is the alert of type t about window m, made at at. Its
// event id (MaintenanceEventID) names the window and the type, so each is
// written once: the outbox's unique event id is the record that it was.
func MaintenanceAlert(t AlertType, m Maintenance, at time.Time) Alert {
	return Alert{EventID: MaintenanceEventID(t, m), Type: t, CreatedAt: at, Maintenance: &m}
}

// MaintenanceEventID is the event id of window m's alert of type t: the
// type and the window's Ref (an occurrence of a recurring window by its
// start).
func MaintenanceEventID(t AlertType, m Maintenance) string { return string(t) + "." + m.Ref() }

// AlertPostmortem is the alert that an incident's postmortem was
// published after it resolved (the resolved alert carries one published
// before), for the status page's email subscribers alone, like the
// maintenance alerts (MailOnly): the webhook schema, Slack and Sentry
// know only the incident's own changes, and its on-call readers wrote the
// postmortem.
const AlertPostmortem AlertType = "incident.postmortem"

// MailOnly reports whether t is mailed to the status page's email
// subscribers and fanned out to no other channel.
func (t AlertType) MailOnly() bool { return t.IsMaintenance() || t == AlertPostmortem }

// PostmortemAlert is the postmortem alert of inc, made at at. Its event id
// names the incident, so it is written once whatever is published again:
// the outbox's unique event id is the record that it was.
func PostmortemAlert(inc Incident, at time.Time) Alert {
	return Alert{EventID: string(AlertPostmortem) + "." + strconv.FormatInt(inc.ID, 10), Type: AlertPostmortem,
		IncidentID: inc.ID, CreatedAt: at, Incident: inc}
}
