package admin

import (
	"context"
	"errors"
	"strings"

	"linkwatch"
)

// The incident actions and reads, as Go calls: the admin API's handlers
// decode a request and call them, and so does the operator console
// (package console), so both validate and act alike, through the engine.

// ErrNoEngine is an incident action while the incident engine is not
// running (serve has not reached its database yet).
var ErrNoEngine = errors.New("the incident engine is not running: incidents cannot be acknowledged, updated or resolved by hand")

// BadInput reports whether err is bad input to one of the API's calls,
// and if so which field is at fault and what is wrong, in words for
// whoever typed it.
func BadInput(err error) (field, msg string, ok bool) {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.field, fe.msg, true
	}
	return "", "", false
}

// IncidentDetail is one incident as an operator reads it: the incident,
// its timeline, its public updates, and the evidence kept with it.
type IncidentDetail struct {
	Incident linkwatch.Incident `json:"incident"`
	Timeline []linkwatch.Event  `json:"timeline"`
	Updates  []linkwatch.Update `json:"updates"`
	// Evidence is each failing result kept with the incident: a
	// linkwatch.Result, or, for a row that is none, the JSON as stored.
	Evidence []any `json:"evidence"`
}

// ListIncidents returns the incidents q selects, newest first. A limit
// outside 1 to 500 and a cause that is none are bad input.
func (a *API) ListIncidents(ctx context.Context, q linkwatch.IncidentQuery) ([]linkwatch.Incident, error) {
	switch {
	case q.Limit < 0 || q.Limit > 500:
		return nil, &fieldError{"limit", "must be an integer from 1 to 500"}
	case q.Cause != "" && !linkwatch.ValidCause(q.Cause):
		return nil, &fieldError{"cause", "must be a root cause such as http_5xx or dns"}
	case q.Page != "" && a.catalog != nil && !a.catalog.HasPage(q.Page):
		return nil, &fieldError{"page", "no page " + clipText(q.Page, 100) + " is configured"}
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	list, err := a.store.ListIncidents(ctx, q)
	return nonNil(list), err
}

// Incident returns one incident with its timeline, updates and evidence.
func (a *API) Incident(ctx context.Context, id int64) (IncidentDetail, error) {
	inc, err := a.store.Incident(ctx, id)
	if err != nil {
		return IncidentDetail{}, err
	}
	events, err1 := a.store.IncidentEvents(ctx, id)
	updates, err2 := a.store.IncidentUpdates(ctx, id)
	evidence, err3 := a.store.IncidentEvidence(ctx, id)
	if err := errors.Join(err1, err2, err3); err != nil {
		return IncidentDetail{}, err
	}
	return IncidentDetail{Incident: inc, Timeline: nonNil(events), Updates: nonNil(updates), Evidence: evidenceJSON(evidence)}, nil
}

// Acknowledge records that by is on an open incident.
func (a *API) Acknowledge(ctx context.Context, id int64, by string) (linkwatch.Incident, error) {
	if err := checkLine("by", by, true, 200); err != nil {
		return linkwatch.Incident{}, err
	}
	return operate(ctx, a, id, func(op Operator) (linkwatch.Incident, error) { return op.Acknowledge(ctx, id, by) })
}

// PostUpdate posts by's public update, which sets the incident's public
// status (by may be empty: the API's clients need not say who they are).
func (a *API) PostUpdate(ctx context.Context, id int64, by string, status linkwatch.IncidentStatus, body string) (linkwatch.Update, error) {
	if err := errors.Join(CheckUpdate(status, body), checkLine("by", by, false, 200)); err != nil {
		return linkwatch.Update{}, firstField(err)
	}
	return operate(ctx, a, id, func(op Operator) (linkwatch.Update, error) { return op.PostUpdate(ctx, id, by, status, body) })
}

// CheckUpdate validates a public update's status and body: PostUpdate's
// check, for a caller that must refuse a value before it acts (Slack's
// modal answers within its request, and acts after).
func CheckUpdate(status linkwatch.IncidentStatus, body string) error {
	if !linkwatch.ValidIncidentStatus(status) {
		return &fieldError{"status", "must be investigating, identified, monitoring or resolved"}
	}
	return checkText("body", body, true, 10000)
}

// PostNote adds by's internal update to the incident's timeline: for the
// team, never shown to visitors nor sent as an alert.
func (a *API) PostNote(ctx context.Context, id int64, by, body string) (linkwatch.Event, error) {
	if err := CheckNote(by, body); err != nil {
		return linkwatch.Event{}, err
	}
	return operate(ctx, a, id, func(op Operator) (linkwatch.Event, error) { return op.Note(ctx, id, by, body) })
}

// CheckNote validates an internal update: who wrote it (a note is for the
// team, who need to know whom to ask), and its body.
func CheckNote(by, body string) error {
	return firstField(errors.Join(checkText("body", body, true, 10000), checkLine("by", by, true, 200)))
}

// Resolve closes an open incident by hand, with a note that becomes its
// last public update.
func (a *API) Resolve(ctx context.Context, id int64, by, note string) (linkwatch.Incident, error) {
	if err := errors.Join(checkLine("by", by, true, 200), checkText("note", note, true, 10000)); err != nil {
		return linkwatch.Incident{}, firstField(err)
	}
	return operate(ctx, a, id, func(op Operator) (linkwatch.Incident, error) { return op.Resolve(ctx, id, by, note) })
}

// EditPostmortem replaces the incident's postmortem; a published one
// needs its primary cause, and is shown on the status page. The first
// publication after the incident resolved is mailed to its confirmed
// email subscribers, once (storage's EditPostmortem writes the alert).
func (a *API) EditPostmortem(ctx context.Context, id int64, pm linkwatch.Postmortem) (linkwatch.Incident, error) {
	if err := CheckPostmortem(pm); err != nil {
		return linkwatch.Incident{}, err
	}
	return a.store.EditPostmortem(ctx, id, pm)
}

// CheckPostmortem validates a postmortem: EditPostmortem's check, for a
// caller that must refuse a value before it acts.
func CheckPostmortem(pm linkwatch.Postmortem) error {
	for _, f := range []struct{ name, value string }{
		{"primary_cause", pm.PrimaryCause}, {"contributing_factors", pm.ContributingFactors},
		{"why_not_caught", pm.WhyNotCaught}, {"notes", pm.Notes},
	} {
		if err := checkText(f.name, f.value, false, 20000); err != nil {
			return err
		}
	}
	if pm.Published && strings.TrimSpace(pm.PrimaryCause) == "" {
		return &fieldError{"primary_cause", "is required to publish a postmortem"}
	}
	return nil
}

// operate runs an operator's action on an existing incident through the
// incident engine (ErrNotFound for an unknown id before the engine is
// asked).
func operate[T any](ctx context.Context, a *API, id int64, act func(Operator) (T, error)) (T, error) {
	var zero T
	if a.operator == nil {
		return zero, ErrNoEngine
	}
	if _, err := a.store.Incident(ctx, id); err != nil {
		return zero, err
	}
	return act(a.operator)
}
