package console

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"linkwatch"
	"linkwatch/incidents/admin"
	"linkwatch/statuspage"
)

// The incidents pages: the list, filtered by state, page and cause; one
// incident with its timeline, evidence and audit entries; and its
// actions, each through the admin API's own call with the signed-in
// operator as "by".

// incidentFilter is the list's filter, as its (GET) form sends it.
type incidentFilter struct {
	State string // "open", "resolved" or "" (both)
	Page  string
	Cause linkwatch.Cause
}

// incidentsView is the list page.
type incidentsView struct {
	Filter incidentFilter
	Pages  []string
	Causes []linkwatch.Cause
	// Open and Recent are the lists shown; ShowOpen and ShowRecent say
	// which the filter asked for.
	Open, Recent         []linkwatch.Incident
	ShowOpen, ShowRecent bool
}

// recentIncidents is how many resolved incidents the list shows.
const recentIncidents = 50

func (c *Console) incidentsPage(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query()
	v := incidentsView{Filter: incidentFilter{State: q.Get("state"), Page: q.Get("page"), Cause: linkwatch.Cause(q.Get("cause"))},
		Causes: linkwatch.Causes()}
	if c.opts.Pages != nil {
		v.Pages = c.opts.Pages()
	}
	switch v.Filter.State {
	case "open":
		v.ShowOpen = true
	case "resolved":
		v.ShowRecent = true
	case "":
		v.ShowOpen, v.ShowRecent = true, true
	default:
		c.renderError(w, r, s, http.StatusBadRequest, "incidents.html", "Incidents", v, "State must be open, resolved or both.")
		return
	}
	list := func(open bool, limit int) ([]linkwatch.Incident, error) {
		return c.opts.Admin.ListIncidents(r.Context(), linkwatch.IncidentQuery{Open: &open, Page: v.Filter.Page, Cause: v.Filter.Cause, Limit: limit})
	}
	var err error
	if v.ShowOpen {
		v.Open, err = list(true, 500)
	}
	if v.ShowRecent && err == nil {
		v.Recent, err = list(false, recentIncidents)
	}
	if _, msg, bad := admin.BadInput(err); bad {
		v.Open, v.Recent = nil, nil
		c.renderError(w, r, s, http.StatusBadRequest, "incidents.html", "Incidents", v, "The filter: "+msg+".")
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "incidents.html", "Incidents", v)
}

// incidentForms are the incident page's forms as last typed: kept when
// one is refused, so nothing typed is lost.
type incidentForms struct {
	UpdateBody, UpdateStatus, Visibility string
	ResolveNote                          string
	Postmortem                           linkwatch.Postmortem
	// postmortemTyped says Postmortem is what was typed; otherwise the
	// form shows the incident's as saved.
	postmortemTyped bool
}

// incidentView is one incident's page.
type incidentView struct {
	admin.IncidentDetail
	Audit []linkwatch.AuditEntry
	Forms incidentForms
	// Public is what visitors see of it now on the status page (empty
	// for the prober's own incidents, which they never see); Preview, the
	// postmortem as typed, as visitors would see it published.
	Public, Preview template.HTML
	Statuses        []linkwatch.IncidentStatus
}

// incidentID is the {id} of an incident's path (false: answered 404).
func (c *Console) incidentID(w http.ResponseWriter, r *http.Request, s session) (int64, bool) {
	id, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	if err != nil || id <= 0 {
		c.render(w, r, s, http.StatusNotFound, "message.html", "No such incident", "There is no incident "+mux.Vars(r)["id"]+".")
		return 0, false
	}
	return id, true
}

func (c *Console) incidentPage(w http.ResponseWriter, r *http.Request, s session) {
	if id, ok := c.incidentID(w, r, s); ok {
		c.showIncident(w, r, s, id, http.StatusOK, incidentForms{}, "", false)
	}
}

// showIncident writes the incident's page with status, the forms as
// typed, an error above them (msg), and the postmortem's preview.
func (c *Console) showIncident(w http.ResponseWriter, r *http.Request, s session, id int64, status int, forms incidentForms, msg string, preview bool) {
	ctx := r.Context()
	d, err := c.opts.Admin.Incident(ctx, id)
	if errors.Is(err, linkwatch.ErrNotFound) {
		c.render(w, r, s, http.StatusNotFound, "message.html", "No such incident", "There is no incident "+strconv.FormatInt(id, 10)+".")
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	audit, err := c.store.AuditLog(ctx, linkwatch.AuditQuery{IncidentID: id, Limit: 200})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	// What was not typed starts as the incident has it: an update at its
	// status, the postmortem as saved.
	if forms.Visibility == "" {
		forms.Visibility = "public"
	}
	if forms.UpdateStatus == "" {
		forms.UpdateStatus = string(d.Incident.Status)
	}
	if !forms.postmortemTyped {
		forms.Postmortem = d.Incident.Postmortem
	}
	v := incidentView{IncidentDetail: d, Audit: audit, Forms: forms,
		Statuses: []linkwatch.IncidentStatus{linkwatch.StatusInvestigating, linkwatch.StatusIdentified, linkwatch.StatusMonitoring, linkwatch.StatusResolved}}
	now := c.opts.Now()
	if !d.Incident.Kind.Internal() {
		if v.Public, err = statuspage.IncidentHTML(d.Incident, d.Updates, now); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	if preview {
		inc := d.Incident
		inc.Postmortem = forms.Postmortem
		inc.Postmortem.Published = true
		if v.Preview, err = statuspage.IncidentHTML(inc, d.Updates, now); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	title := "Incident " + strconv.FormatInt(id, 10)
	if msg != "" {
		c.renderError(w, r, s, status, "incident.html", title, v, msg)
		return
	}
	c.render(w, r, s, status, "incident.html", title, v)
}

// incidentAction runs an action on the incident of the request's path:
// act, recorded in the audit log as action with detail; then a 303 to the
// incident with notice, or its page again with the error and forms.
func (c *Console) incidentAction(w http.ResponseWriter, r *http.Request, s session, action, detail, notice string, forms incidentForms, act func(id int64) error) {
	id, ok := c.incidentID(w, r, s)
	if !ok {
		return
	}
	err := act(id)
	if _, _, bad := admin.BadInput(err); !bad {
		// Bad input is refused before anything is tried: not an action.
		c.audit(r, s, linkwatch.AuditEntry{Action: action, IncidentID: id, Detail: clip(detail, 500)}, err)
	}
	if err == nil {
		c.done(w, r, Path+"/incidents/"+strconv.FormatInt(id, 10), notice)
		return
	}
	status, msg := refusal(err)
	if status == http.StatusInternalServerError {
		c.fail(w, r, s, err)
		return
	}
	c.showIncident(w, r, s, id, status, forms, msg, false)
}

// refusal is the status and message of an action the admin API refused
// (500: not the operator's to fix).
func refusal(err error) (int, string) {
	if field, msg, ok := admin.BadInput(err); ok {
		return http.StatusBadRequest, fieldLabels[field] + " " + msg + ". Nothing was changed."
	}
	switch {
	case errors.Is(err, linkwatch.ErrNotFound):
		return http.StatusNotFound, "There is no such incident."
	case errors.Is(err, linkwatch.ErrConflict):
		return http.StatusConflict, "Refused: " + strings.TrimSuffix(err.Error(), ": "+linkwatch.ErrConflict.Error()) + ". Nothing was changed."
	case errors.Is(err, admin.ErrNoEngine):
		return http.StatusServiceUnavailable, "Not now: " + err.Error() + ". Nothing was changed."
	}
	return http.StatusInternalServerError, ""
}

// fieldLabels name the admin API's fields as the forms label them.
var fieldLabels = map[string]string{
	"by": "Your name", "status": "The status", "body": "The update's text", "note": "The resolution note",
	"primary_cause": "The primary cause", "contributing_factors": "The contributing factors",
	"why_not_caught": "Why it wasn't caught", "notes": "The notes",
}

func (c *Console) acknowledge(w http.ResponseWriter, r *http.Request, s session) {
	c.incidentAction(w, r, s, "incident.acknowledge", "", "acknowledged", incidentForms{}, func(id int64) error {
		_, err := c.opts.Admin.Acknowledge(r.Context(), id, s.Operator)
		return err
	})
}

// postUpdate posts a public update (with its status) or an internal note.
func (c *Console) postUpdate(w http.ResponseWriter, r *http.Request, s session) {
	f := incidentForms{UpdateBody: r.PostForm.Get("body"), UpdateStatus: r.PostForm.Get("status"), Visibility: r.PostForm.Get("visibility")}
	switch f.Visibility {
	case "internal":
		c.incidentAction(w, r, s, "incident.note", f.UpdateBody, "noted", f, func(id int64) error {
			_, err := c.opts.Admin.PostNote(r.Context(), id, s.Operator, f.UpdateBody)
			return err
		})
	case "public":
		c.incidentAction(w, r, s, "incident.update", f.UpdateStatus+": "+f.UpdateBody, "updated", f, func(id int64) error {
			_, err := c.opts.Admin.PostUpdate(r.Context(), id, s.Operator, linkwatch.IncidentStatus(f.UpdateStatus), f.UpdateBody)
			return err
		})
	default:
		if id, ok := c.incidentID(w, r, s); ok {
			c.showIncident(w, r, s, id, http.StatusBadRequest, f, "Choose who sees the update: visitors (public) or the team (internal). Nothing was changed.", false)
		}
	}
}

func (c *Console) resolve(w http.ResponseWriter, r *http.Request, s session) {
	f := incidentForms{ResolveNote: r.PostForm.Get("note")}
	c.incidentAction(w, r, s, "incident.resolve", f.ResolveNote, "resolved", f, func(id int64) error {
		_, err := c.opts.Admin.Resolve(r.Context(), id, s.Operator, f.ResolveNote)
		return err
	})
}

// postmortem previews the postmortem as typed (changing nothing), saves
// it as a draft (hidden from visitors), or publishes it.
func (c *Console) postmortem(w http.ResponseWriter, r *http.Request, s session) {
	p := r.PostForm
	f := incidentForms{postmortemTyped: true, Postmortem: linkwatch.Postmortem{PrimaryCause: p.Get("primary_cause"),
		ContributingFactors: p.Get("contributing_factors"), WhyNotCaught: p.Get("why_not_caught"), Notes: p.Get("notes")}}
	switch p.Get("intent") {
	case "preview":
		if id, ok := c.incidentID(w, r, s); ok {
			c.showIncident(w, r, s, id, http.StatusOK, f, "", true)
		}
	case "draft", "publish":
		f.Postmortem.Published = p.Get("intent") == "publish"
		action, notice := "postmortem.save_draft", "drafted"
		if f.Postmortem.Published {
			action, notice = "postmortem.publish", "published"
		}
		c.incidentAction(w, r, s, action, f.Postmortem.PrimaryCause, notice, f, func(id int64) error {
			_, err := c.opts.Admin.EditPostmortem(r.Context(), id, f.Postmortem)
			return err
		})
	default:
		if id, ok := c.incidentID(w, r, s); ok {
			c.showIncident(w, r, s, id, http.StatusBadRequest, f, "Choose Preview, Save as draft or Publish. Nothing was changed.", false)
		}
	}
}

// clip shortens s for the audit log.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
