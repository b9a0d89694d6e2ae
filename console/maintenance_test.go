package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"linkwatch/console"
	"linkwatch/incidents/admin"
	"linkwatch/storage/sqlite/sqlitetest"
)

// maintenanceEnv is a console with the admin API's calls behind it.
func maintenanceEnv(t *testing.T) *env {
	t.Helper()
	db := sqlitetest.MustOpen(t)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)} // a Monday
	db.SetClock(clk.Now)
	return serveOn(t, db.DB, clk, console.Options{Admin: admin.New(db, admin.Options{Token: token, Now: clk.Now})})
}

// TestMaintenancePage: an operator schedules a recurring window and a
// one-off one and removes them; the page lists the windows in progress
// and to come (an occurrence among them, pointing at its recurring
// window) and each recurring window's next three occurrences. A bad
// schedule is the form again with the admin API's message and what was
// typed (400), a form without the CSRF token is 403: neither stores
// anything. Every action, refused or not, is in the audit log.
func TestMaintenancePage(t *testing.T) {
	t.Parallel()
	e := maintenanceEnv(t)
	b := newBrowser(t)
	b.mustSignIn(e, "Grace")
	page := e.srv.URL + "/admin/maintenance"
	if a := b.do("GET", page, nil); a.code != 200 || !strings.Contains(a.body, "No window is in progress or scheduled.") || !strings.Contains(a.body, `aria-current="page"`) {
		t.Fatalf("empty page = %d:\n%s", a.code, a.body)
	}
	csrf := b.csrf(page)
	stored := func() int {
		t.Helper()
		list, err := e.db.ListRecurringMaintenance(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	weekly := url.Values{"title": {"Weekly patching"}, "component": {"hub"}, "schedule": {"0 2 * * SUN"}, "duration": {"1h"}}
	if a := b.do("POST", e.srv.URL+"/admin/maintenance/recurring", weekly); a.code != http.StatusForbidden || stored() != 0 {
		t.Fatalf("without CSRF = %d, %d stored", a.code, stored())
	}
	bad := url.Values{"csrf": {csrf}, "title": {"Weekly patching"}, "schedule": {"0 2 * *"}, "duration": {"1h"}}
	if a := b.do("POST", e.srv.URL+"/admin/maintenance/recurring", bad); a.code != http.StatusBadRequest ||
		!strings.Contains(a.body, "is not a cron expression such as 0 2 * * SUN: expected exactly 5 fields") || !strings.Contains(a.body, `value="0 2 * *"`) || stored() != 0 {
		t.Fatalf("bad schedule = %d, %d stored:\n%s", a.code, stored(), a.body)
	}
	overlap := url.Values{"csrf": {csrf}, "title": {"Hourly"}, "schedule": {"0 * * * *"}, "duration": {"2h"}}
	if a := b.do("POST", e.srv.URL+"/admin/maintenance/recurring", overlap); a.code != http.StatusBadRequest || !strings.Contains(a.body, "would overlap the next") || stored() != 0 {
		t.Fatalf("overlapping duration = %d, %d stored:\n%s", a.code, stored(), a.body)
	}

	weekly.Set("csrf", csrf)
	if a := b.do("POST", e.srv.URL+"/admin/maintenance/recurring", weekly); a.code != http.StatusSeeOther || a.hdr.Get("Location") != "/admin/maintenance?done=recurring-created" {
		t.Fatalf("create recurring = %d to %q:\n%s", a.code, a.hdr.Get("Location"), a.body)
	}
	oneOff := url.Values{"csrf": {csrf}, "title": {"DNS move"}, "component": {""}, "starts_at": {"2026-12-07T09:30"}, "ends_at": {"2026-12-07T11:00"}}
	if a := b.do("POST", page, oneOff); a.code != http.StatusSeeOther {
		t.Fatalf("create one-off = %d:\n%s", a.code, a.body)
	}
	badTime := url.Values{"csrf": {csrf}, "title": {"x"}, "starts_at": {"tomorrow"}, "ends_at": {"2026-12-07T11:00"}}
	if a := b.do("POST", page, badTime); a.code != http.StatusBadRequest || !strings.Contains(a.body, "Starts must be a date and time") {
		t.Fatalf("bad time = %d:\n%s", a.code, a.body)
	}
	if a := b.do("POST", page, url.Values{"csrf": {csrf}, "title": {"x"}, "starts_at": {"2026-12-07T12:00"}, "ends_at": {"2026-12-07T11:00"}}); a.code != http.StatusBadRequest ||
		!strings.Contains(a.body, "must be after starts_at") {
		t.Fatalf("ends before it starts = %d:\n%s", a.code, a.body)
	}

	a := b.do("GET", page+"?done=recurring-created", nil)
	for _, want := range []string{"The recurring maintenance window is scheduled.",
		// the one-off window, in progress, with its remove button
		`<tr id="maintenance-1"><td class="wrap">DNS move</td><td class="wrap">everything</td>`, "In progress", `action="/admin/maintenance/1/delete"`,
		// the weekly window's next occurrence among the windows
		`<tr id="maintenance-r1-20261213T0200Z">`, `<a href="#recurring-1">Recurring window #1</a>`,
		// and its next three
		`<code>0 2 * * SUN</code></td><td>1h0m0s</td>`, `datetime="2026-12-13T02:00:00Z"`, `datetime="2026-12-20T02:00:00Z"`, `datetime="2026-12-27T02:00:00Z"`,
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("page:\n%s", a.body)
	}

	if a := b.do("POST", e.srv.URL+"/admin/maintenance/recurring/1/delete", url.Values{"csrf": {csrf}}); a.code != http.StatusSeeOther || stored() != 0 {
		t.Fatalf("delete recurring = %d, %d stored", a.code, stored())
	}
	if a := b.do("POST", e.srv.URL+"/admin/maintenance/recurring/1/delete", url.Values{"csrf": {csrf}}); a.code != http.StatusNotFound || !strings.Contains(a.body, "no longer exists") {
		t.Fatalf("delete twice = %d:\n%s", a.code, a.body)
	}
	if a := b.do("POST", e.srv.URL+"/admin/maintenance/1/delete", url.Values{"csrf": {csrf}}); a.code != http.StatusSeeOther {
		t.Fatalf("delete one-off = %d", a.code)
	}
	if a := b.do("GET", page, nil); !strings.Contains(a.body, "No window is in progress or scheduled.") || !strings.Contains(a.body, "No recurring window.") {
		t.Errorf("page after removing both:\n%s", a.body)
	}

	var got []string
	for _, en := range auditLog(t, e.db) {
		got = append(got, en.Action+" "+en.Outcome)
	}
	want := []string{"maintenance.delete ok", "maintenance.recurring.delete refused: recurring maintenance 1: not found", "maintenance.recurring.delete ok",
		"maintenance.create failed: ends_at: must be after starts_at", "maintenance.create ok", "maintenance.recurring.create ok",
		"maintenance.recurring.create failed: duration: an occurrence would overlap the next: the schedule starts at 2026-12-07T11:00:00Z and again at 2026-12-07T12:00:00Z, 1h0m0s later",
		"maintenance.recurring.create failed: schedule: is not a cron expression such as 0 2 * * SUN: expected exactly 5 fields, found 4: [0 2 * *]", "signin ok"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
