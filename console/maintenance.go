package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"linkwatch"
	"linkwatch/incidents/admin"
)

// maintenanceView is the maintenance page: the windows in progress and to
// come (one-off ones and occurrences of recurring ones), the recurring
// windows with their next three occurrences, and the two forms, holding
// what was typed when it was refused.
type maintenanceView struct {
	Windows   []linkwatch.Maintenance
	Recurring []admin.RecurringView
	OneOff    oneOffForm
	Repeat    admin.RecurringRequest
	Now       time.Time // what is in progress
}

// oneOffForm is the one-off window's form as typed: its times are
// datetime-local values, read in UTC.
type oneOffForm struct{ Title, Component, StartsAt, EndsAt string }

// localLayout is a datetime-local input's value.
const localLayout = "2006-01-02T15:04"

func (c *Console) maintenancePage(w http.ResponseWriter, r *http.Request, s session) {
	c.renderMaintenance(w, r, s, http.StatusOK, maintenanceView{}, "")
}

// renderMaintenance shows the page with v's forms, and msg above them
// when an action was refused (status 400).
func (c *Console) renderMaintenance(w http.ResponseWriter, r *http.Request, s session, status int, v maintenanceView, msg string) {
	var err error
	v.Now = c.opts.Now()
	if v.Windows, err = c.opts.Admin.Maintenance(r.Context()); err == nil {
		v.Recurring, err = c.opts.Admin.RecurringMaintenance(r.Context())
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if msg != "" {
		c.renderError(w, r, s, status, "maintenance.html", "Maintenance", v, msg)
		return
	}
	c.render(w, r, s, status, "maintenance.html", "Maintenance", v)
}

// refusedMaintenance answers an action the admin API refused: bad input is the page
// again with the message (400), nothing changed; a window that is gone is
// a 404 saying so; anything else is the database's trouble.
func (c *Console) refusedMaintenance(w http.ResponseWriter, r *http.Request, s session, v maintenanceView, err error) {
	if _, msg, ok := admin.BadInput(err); ok {
		c.renderMaintenance(w, r, s, http.StatusBadRequest, v, msg)
		return
	}
	if errors.Is(err, linkwatch.ErrNotFound) {
		c.renderMaintenance(w, r, s, http.StatusNotFound, v, "That window no longer exists: someone removed it already.")
		return
	}
	c.fail(w, r, s, err)
}

func (c *Console) createMaintenance(w http.ResponseWriter, r *http.Request, s session) {
	f := oneOffForm{Title: r.PostForm.Get("title"), Component: strings.TrimSpace(r.PostForm.Get("component")),
		StartsAt: r.PostForm.Get("starts_at"), EndsAt: r.PostForm.Get("ends_at")}
	v := maintenanceView{OneOff: f}
	req := admin.MaintenanceRequest{Title: f.Title, Component: f.Component}
	var err error
	for _, t := range []struct {
		name, value string
		into        *time.Time
	}{{"Starts", f.StartsAt, &req.StartsAt}, {"Ends", f.EndsAt, &req.EndsAt}} {
		if *t.into, err = time.Parse(localLayout, t.value); err != nil {
			c.renderMaintenance(w, r, s, http.StatusBadRequest, v, t.name+" must be a date and time, such as 2026-12-24T02:00 (UTC).")
			return
		}
	}
	_, err = c.opts.Admin.CreateMaintenance(r.Context(), req)
	c.audit(r, s, linkwatch.AuditEntry{Action: "maintenance.create",
		Detail: fmt.Sprintf("%s (%s) from %s to %s", f.Title, covers(f.Component), req.StartsAt.Format(time.RFC3339), req.EndsAt.Format(time.RFC3339))}, err)
	if err != nil {
		c.refusedMaintenance(w, r, s, v, err)
		return
	}
	c.done(w, r, Path+"/maintenance", "maintenance-created")
}

func (c *Console) createRecurring(w http.ResponseWriter, r *http.Request, s session) {
	req := admin.RecurringRequest{Title: r.PostForm.Get("title"), Component: strings.TrimSpace(r.PostForm.Get("component")),
		Schedule: r.PostForm.Get("schedule"), Duration: r.PostForm.Get("duration")}
	_, err := c.opts.Admin.CreateRecurring(r.Context(), req)
	c.audit(r, s, linkwatch.AuditEntry{Action: "maintenance.recurring.create",
		Detail: fmt.Sprintf("%s (%s) on %q for %s", req.Title, covers(req.Component), req.Schedule, req.Duration)}, err)
	if err != nil {
		c.refusedMaintenance(w, r, s, maintenanceView{Repeat: req}, err)
		return
	}
	c.done(w, r, Path+"/maintenance", "recurring-created")
}

func (c *Console) deleteMaintenance(w http.ResponseWriter, r *http.Request, s session) {
	c.deleteWindow(w, r, s, "maintenance.delete", "maintenance-deleted", c.opts.Admin.DeleteMaintenance)
}

func (c *Console) deleteRecurring(w http.ResponseWriter, r *http.Request, s session) {
	c.deleteWindow(w, r, s, "maintenance.recurring.delete", "recurring-deleted", c.opts.Admin.DeleteRecurring)
}

// deleteWindow removes the window the path names with del, and records it.
func (c *Console) deleteWindow(w http.ResponseWriter, r *http.Request, s session, action, notice string, del func(ctx context.Context, id int64) error) {
	id, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	if err != nil || id <= 0 {
		c.renderMaintenance(w, r, s, http.StatusNotFound, maintenanceView{}, "There is no such window.")
		return
	}
	err = del(r.Context(), id)
	c.audit(r, s, linkwatch.AuditEntry{Action: action, Detail: "window " + strconv.FormatInt(id, 10)}, err)
	if err != nil {
		c.refusedMaintenance(w, r, s, maintenanceView{}, err)
		return
	}
	c.done(w, r, Path+"/maintenance", notice)
}

// covers names what a window covers, for the page and the audit log.
func covers(component string) string {
	if component == "" {
		return "everything"
	}
	return component
}
