package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/console"
	"linkwatch/incidents"
	"linkwatch/incidents/admin"
	"linkwatch/storage/sqlite/sqlitetest"
)

const (
	shop = "https://shop.example/a"
	blog = "https://blog.example/"
)

// incidentEnv is a console over a database with a running incident
// engine, as serve wires them: the console's actions go through the admin
// API's calls, and those through the engine. It holds one open incident
// (shop, http_5xx, page acme) and one resolved (blog, dns, page ada).
type incidentEnv struct {
	*env
	open, resolved int64
}

func newIncidentEnv(t *testing.T) *incidentEnv {
	t.Helper()
	db := sqlitetest.MustOpen(t).DB
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clk.Now)
	ctx := context.Background()
	deps := map[string][]linkwatch.Affected{
		shop: {{Page: "acme", Link: "a", URL: shop}},
		blog: {{Page: "ada", Link: "blog", URL: blog}},
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := incidents.NewEngine(ctx, incidents.Config{Now: clk.Now}, db, deps, quiet)
	if err != nil {
		t.Fatal(err)
	}
	feed := func(target string, cause linkwatch.Cause) {
		status := linkwatch.StatusDown
		if cause == "" {
			status = linkwatch.StatusUp
		}
		r := linkwatch.Result{TargetID: target, Kind: linkwatch.TargetDestination, URL: target, Start: clk.Now(), Status: status, Cause: cause,
			Summary: string(cause) + " at " + target}
		if err := eng.Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		feed(shop, linkwatch.CauseHTTP5xx)
		feed(blog, linkwatch.CauseDNS)
		clk.Add(10 * time.Second)
	}
	for range 2 {
		feed(blog, "")
		clk.Add(10 * time.Second)
	}
	runCtx, stop := context.WithCancel(ctx)
	results := make(chan linkwatch.Result)
	done := make(chan struct{})
	go func() { eng.Run(runCtx, results); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	api := admin.New(db, admin.Options{Token: token, Operator: eng, Log: quiet, Now: clk.Now})
	e := &incidentEnv{env: serveOn(t, db, clk, console.Options{Admin: api, Pages: func() []string { return []string{"acme", "ada"} }})}
	list, err := db.ListIncidents(ctx, linkwatch.IncidentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range list {
		if inc.Open() {
			e.open = inc.ID
		} else {
			e.resolved = inc.ID
		}
	}
	if len(list) != 2 || e.open == 0 || e.resolved == 0 {
		t.Fatalf("seeded incidents: %+v", list)
	}
	return e
}

func (e *incidentEnv) path(id int64, action string) string {
	p := e.srv.URL + "/admin/incidents/" + strconv.FormatInt(id, 10)
	if action != "" {
		p += "/" + action
	}
	return p
}

func (e *incidentEnv) incident(t *testing.T, id int64) linkwatch.Incident {
	t.Helper()
	inc, err := e.db.Incident(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// post sends an incident form with the session's CSRF token.
func (b *browser) post(e *incidentEnv, id int64, action string, form url.Values) answer {
	b.t.Helper()
	form.Set("csrf", b.csrf(e.path(id, "")))
	return b.do("POST", e.path(id, action), form)
}

// TestIncidentsList: open and recent incidents, filtered by state, page
// and cause; a bad filter says what is wrong.
func TestIncidentsList(t *testing.T) {
	t.Parallel()
	e := newIncidentEnv(t)
	b := newBrowser(t)
	b.mustSignIn(e.env, "Ada")
	if a := b.do("GET", e.srv.URL+"/admin/", nil); a.code != http.StatusSeeOther || a.hdr.Get("Location") != "/admin/incidents" {
		t.Errorf("/admin/ = %d to %q, want the incidents", a.code, a.hdr.Get("Location"))
	}
	has := func(q string, open, resolved bool) {
		t.Helper()
		a := b.do("GET", e.srv.URL+"/admin/incidents"+q, nil)
		if a.code != 200 {
			t.Fatalf("%s: %d\n%s", q, a.code, a.body)
		}
		if got := strings.Contains(a.body, `id="incident-`+strconv.FormatInt(e.open, 10)+`"`); got != open {
			t.Errorf("%s: the open incident listed: %v, want %v", q, got, open)
		}
		if got := strings.Contains(a.body, `id="incident-`+strconv.FormatInt(e.resolved, 10)+`"`); got != resolved {
			t.Errorf("%s: the resolved incident listed: %v, want %v", q, got, resolved)
		}
	}
	has("", true, true)
	has("?state=open", true, false)
	has("?state=resolved", false, true)
	has("?page=acme", true, false)
	has("?page=ada", false, true)
	has("?cause=dns", false, true)
	has("?cause=http_5xx&page=acme&state=open", true, false)
	has("?cause=timeout", false, false)
	for q, want := range map[string]string{"?state=gone": "State must be", "?cause=nope": "root cause"} {
		if a := b.do("GET", e.srv.URL+"/admin/incidents"+q, nil); a.code != 400 || !strings.Contains(a.body, want) {
			t.Errorf("%s: %d, want 400 saying %q", q, a.code, want)
		}
	}
	for _, p := range []string{"/admin/incidents/999", "/admin/incidents/0"} {
		if a := b.do("GET", e.srv.URL+p, nil); a.code != 404 {
			t.Errorf("%s: %d, want 404", p, a.code)
		}
	}
}

// TestIncidentActions: acknowledge, post a public update and an internal
// note, preview, save and publish the postmortem, resolve: each through
// the engine, by the signed-in operator, in the audit log and on the
// incident's page; an action the engine refuses says why and changes
// nothing.
func TestIncidentActions(t *testing.T) {
	t.Parallel()
	e := newIncidentEnv(t)
	ctx := context.Background()
	b := newBrowser(t)
	b.mustSignIn(e.env, "Ada")

	a := b.post(e, e.open, "ack", url.Values{})
	if a.code != http.StatusSeeOther || a.hdr.Get("Location") != "/admin/incidents/"+strconv.FormatInt(e.open, 10)+"?done=acknowledged" {
		t.Fatalf("ack = %d to %q:\n%s", a.code, a.hdr.Get("Location"), a.body)
	}
	if inc := e.incident(t, e.open); inc.AcknowledgedBy != "Ada" {
		t.Errorf("acknowledged by %q, want the operator", inc.AcknowledgedBy)
	}
	if a := b.post(e, e.open, "ack", url.Values{}); a.code != http.StatusConflict || !strings.Contains(a.body, "already acknowledged by Ada") {
		t.Errorf("ack again = %d:\n%s", a.code, a.body)
	}
	if a := b.post(e, e.resolved, "ack", url.Values{}); a.code != http.StatusConflict || e.incident(t, e.resolved).AcknowledgedBy != "" {
		t.Errorf("ack a resolved incident = %d", a.code)
	}

	if a := b.post(e, e.open, "update", url.Values{"visibility": {"public"}, "status": {"identified"}, "body": {"The shop's server is down."}}); a.code != http.StatusSeeOther {
		t.Fatalf("public update = %d:\n%s", a.code, a.body)
	}
	if a := b.post(e, e.open, "update", url.Values{"visibility": {"internal"}, "status": {"identified"}, "body": {"Paged the shop's team."}}); a.code != http.StatusSeeOther {
		t.Fatalf("internal note = %d:\n%s", a.code, a.body)
	}
	ups, _ := e.db.IncidentUpdates(ctx, e.open)
	if len(ups) != 1 || ups[0].Body != "The shop's server is down." || ups[0].Status != linkwatch.StatusIdentified {
		t.Errorf("public updates = %+v, want the public one only", ups)
	}

	// Preview: what visitors will see, and nothing saved.
	pm := url.Values{"primary_cause": {"The shop's host ran out of disk."}, "contributing_factors": {"No disk alert."},
		"why_not_caught": {"Nobody watched the disk."}, "notes": {""}}
	pm.Set("intent", "preview")
	a = b.post(e, e.open, "postmortem", pm)
	if a.code != 200 || !strings.Contains(a.body, "Preview: what visitors will see") || !strings.Contains(a.body, "<dd>The shop&#39;s host ran out of disk.</dd>") {
		t.Errorf("preview = %d:\n%s", a.code, a.body)
	}
	if got := e.incident(t, e.open).Postmortem; got.PrimaryCause != "" {
		t.Errorf("a preview saved the postmortem: %+v", got)
	}
	pm.Set("intent", "draft")
	if a := b.post(e, e.open, "postmortem", pm); a.code != http.StatusSeeOther {
		t.Fatalf("draft = %d:\n%s", a.code, a.body)
	}
	if got := e.incident(t, e.open).Postmortem; got.PrimaryCause != "The shop's host ran out of disk." || got.Published {
		t.Errorf("draft = %+v", got)
	}
	// Another form refused: the saved draft is still in its form, and the
	// update form at the incident's status.
	a = b.post(e, e.open, "update", url.Values{"visibility": {"public"}, "body": {""}})
	if a.code != 400 || !strings.Contains(a.body, ">The shop&#39;s host ran out of disk.</textarea>") || !strings.Contains(a.body, `<option value="identified" selected>`) {
		t.Errorf("a refused update lost the saved draft or the status:\n%s", a.body)
	}
	if a := b.post(e, e.open, "resolve", url.Values{"note": {"The host has disk again."}}); a.code != http.StatusSeeOther {
		t.Fatalf("resolve = %d:\n%s", a.code, a.body)
	}
	if inc := e.incident(t, e.open); inc.Open() {
		t.Error("not resolved")
	}
	if a := b.post(e, e.open, "resolve", url.Values{"note": {"again"}}); a.code != http.StatusConflict || !strings.Contains(a.body, "not open") {
		t.Errorf("resolve again = %d", a.code)
	}
	pm.Set("intent", "publish")
	if a := b.post(e, e.open, "postmortem", pm); a.code != http.StatusSeeOther {
		t.Fatalf("publish = %d:\n%s", a.code, a.body)
	}
	if got := e.incident(t, e.open).Postmortem; !got.Published || got.WhyNotCaught != "Nobody watched the disk." {
		t.Errorf("published = %+v", got)
	}

	// The timeline names who did what; the audit log has every action.
	page := b.do("GET", e.path(e.open, "")+"?done=published", nil).body
	for _, want := range []string{"acknowledged by Ada", "identified by Ada: The shop&#39;s server is down.", "internal note by Ada: Paged the shop&#39;s team.",
		"resolved by Ada: The host has disk again.", "Postmortem published: visitors see it", "On the status page now"} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident's page lacks %q", want)
		}
	}
	log, _ := e.db.AuditLog(ctx, linkwatch.AuditQuery{IncidentID: e.open})
	var actions []string
	for _, entry := range log {
		if entry.Actor != "Ada" || entry.Client != "127.0.0.1" {
			t.Errorf("audit entry %+v: want Ada from 127.0.0.1", entry)
		}
		actions = append(actions, entry.Action+" "+strings.SplitN(entry.Outcome, ":", 2)[0])
	}
	want := "postmortem.publish ok,incident.resolve refused,incident.resolve ok,postmortem.save_draft ok,incident.note ok,incident.update ok,incident.acknowledge refused,incident.acknowledge ok"
	if strings.Join(actions, ",") != want {
		t.Errorf("audit log of the incident:\n%s\nwant\n%s", strings.Join(actions, ","), want)
	}
}

// TestIncidentFormsBadInput: every form's bad input is a 400 that says
// what is wrong, keeps what was typed, and changes nothing (no update, no
// note, no resolution, no postmortem, no audit entry).
func TestIncidentFormsBadInput(t *testing.T) {
	t.Parallel()
	e := newIncidentEnv(t)
	ctx := context.Background()
	b := newBrowser(t)
	b.mustSignIn(e.env, "Ada")
	long := strings.Repeat("x", 20001)
	before, _ := e.db.IncidentEvents(ctx, e.open)
	audit := len(auditLog(t, e.db))
	for _, tc := range []struct {
		action string
		form   url.Values
		want   string
	}{
		{"update", url.Values{"visibility": {"public"}, "status": {"identified"}, "body": {"  "}}, "The update&#39;s text is required"},
		{"update", url.Values{"visibility": {"public"}, "status": {"fixed"}, "body": {"kept text"}}, "The status must be investigating"},
		{"update", url.Values{"visibility": {"public"}, "status": {"identified"}, "body": {"bad \x01 char"}}, "control characters"},
		{"update", url.Values{"visibility": {"internal"}, "body": {""}}, "The update&#39;s text is required"},
		{"update", url.Values{"status": {"identified"}, "body": {"kept text"}}, "Choose who sees the update"},
		{"update", url.Values{"visibility": {"everyone"}, "status": {"identified"}, "body": {"kept text"}}, "Choose who sees the update"},
		{"update", url.Values{"visibility": {"public"}, "status": {"resolved"}, "body": {"kept text"}}, "still open"},
		{"resolve", url.Values{"note": {""}}, "The resolution note is required"},
		{"postmortem", url.Values{"intent": {"publish"}, "primary_cause": {" "}, "notes": {"kept text"}}, "The primary cause is required to publish"},
		{"postmortem", url.Values{"intent": {"draft"}, "notes": {long}}, "The notes must be at most 20000 bytes"},
		{"postmortem", url.Values{"primary_cause": {"kept text"}}, "Choose Preview, Save as draft or Publish"},
	} {
		a := b.post(e, e.open, tc.action, tc.form)
		if a.code != 400 && !(a.code == 409 && tc.want == "still open") || !strings.Contains(a.body, tc.want) || !strings.Contains(a.body, "Nothing was changed") {
			t.Errorf("%s %v: %d, want 400 saying %q:\n%.3000s", tc.action, tc.form, a.code, tc.want, a.body)
		}
		if strings.Contains(tc.form.Encode(), "kept+text") && !strings.Contains(a.body, "kept text") {
			t.Errorf("%s %v: what was typed is lost", tc.action, tc.form)
		}
	}
	if a := b.do("POST", e.path(999, "ack"), url.Values{"csrf": {b.csrf(e.path(e.open, ""))}}); a.code != 404 {
		t.Errorf("ack an unknown incident: %d", a.code)
	}
	after, _ := e.db.IncidentEvents(ctx, e.open)
	inc := e.incident(t, e.open)
	ups, _ := e.db.IncidentUpdates(ctx, e.open)
	if len(after) != len(before) || !inc.Open() || inc.Postmortem != (linkwatch.Postmortem{}) || len(ups) != 0 {
		t.Errorf("bad input changed the incident: %d events (was %d), %+v, updates %+v", len(after), len(before), inc, ups)
	}
	// Refused by the engine (a conflict, an unknown incident) is recorded;
	// bad input, refused before anything was tried, is not.
	if n := len(auditLog(t, e.db)) - audit; n != 2 {
		t.Errorf("%d audit entries, want 2 (the update refused as still open, the unknown incident)", n)
	}
}

// TestIncidentActionsNeedCSRFAndSession: an action without the CSRF
// token, with another's, or after signing out is 403 and changes nothing.
func TestIncidentActionsNeedCSRFAndSession(t *testing.T) {
	t.Parallel()
	e := newIncidentEnv(t)
	b, other := newBrowser(t), newBrowser(t)
	b.mustSignIn(e.env, "Ada")
	other.mustSignIn(e.env, "Mallory")
	forged := other.csrf(e.path(e.open, ""))
	audit := len(auditLog(t, e.db))
	for name, form := range map[string]url.Values{"missing": {}, "another session's": {"csrf": {forged}}} {
		for _, action := range []string{"ack", "update", "resolve", "postmortem"} {
			f := url.Values{"visibility": {"public"}, "status": {"identified"}, "body": {"x"}, "note": {"x"}, "intent": {"publish"}, "primary_cause": {"x"}}
			for k, v := range form {
				f[k] = v
			}
			if a := b.do("POST", e.path(e.open, action), f); a.code != http.StatusForbidden {
				t.Errorf("%s with a %s CSRF token: %d, want 403", action, name, a.code)
			}
		}
	}
	csrf := b.csrf(e.path(e.open, ""))
	b.do("POST", e.srv.URL+"/admin/signout", url.Values{"csrf": {csrf}})
	if a := b.do("POST", e.path(e.open, "ack"), url.Values{"csrf": {csrf}}); a.code != http.StatusForbidden {
		t.Errorf("ack after signing out: %d, want 403", a.code)
	}
	inc := e.incident(t, e.open)
	if inc.AcknowledgedBy != "" || !inc.Open() || inc.Postmortem.Published {
		t.Errorf("forged forms changed the incident: %+v", inc)
	}
	if n := len(auditLog(t, e.db)) - audit; n != 1 { // the sign-out
		t.Errorf("%d audit entries, want the sign-out only", n)
	}
}
