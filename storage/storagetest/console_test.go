package storagetest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

// consoleSessions: a session is read back as stored, touched, and gone
// once ended (ending it twice is no error; touching it then does not
// bring it back); creating one deletes those past their absolute expiry.
func consoleSessions(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	s := linkwatch.ConsoleSession{ID: "a1", Operator: "ada", CSRF: "c1", Client: "192.0.2.1",
		CreatedAt: t0, SeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
	must(t, db.CreateSession(ctx, s))
	got, err := db.Session(ctx, "a1")
	must(t, err)
	if got != s {
		t.Errorf("session = %+v, want %+v", got, s)
	}
	s.SeenAt = t0.Add(time.Minute)
	must(t, db.TouchSession(ctx, s))
	if got, _ = db.Session(ctx, "a1"); !got.SeenAt.Equal(s.SeenAt) {
		t.Errorf("seen at %v after a touch, want %v", got.SeenAt, s.SeenAt)
	}
	if _, err := db.Session(ctx, "nope"); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("an unknown session: err = %v, want ErrNotFound", err)
	}

	// Ended: gone, for every replica reading this database.
	must(t, db.EndSession(ctx, "a1"))
	must(t, db.EndSession(ctx, "a1"))
	if _, err := db.Session(ctx, "a1"); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("a session signed out: err = %v, want ErrNotFound", err)
	}
	if err := db.TouchSession(ctx, s); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("touching a session signed out: err = %v, want ErrNotFound", err)
	}
	if _, err := db.Session(ctx, "a1"); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Error("touching a session signed out brought it back")
	}

	// A new session sweeps the ones past their absolute expiry, and only those.
	old := linkwatch.ConsoleSession{ID: "old", Operator: "bo", CSRF: "c2", CreatedAt: t0, SeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	live := linkwatch.ConsoleSession{ID: "live", Operator: "cy", CSRF: "c3", CreatedAt: t0, SeenAt: t0, ExpiresAt: t0.Add(3 * time.Hour)}
	must(t, db.CreateSession(ctx, old))
	must(t, db.CreateSession(ctx, live))
	later := t0.Add(2 * time.Hour)
	must(t, db.CreateSession(ctx, linkwatch.ConsoleSession{ID: "new", Operator: "di", CSRF: "c4", CreatedAt: later, SeenAt: later, ExpiresAt: later.Add(time.Hour)}))
	if _, err := db.Session(ctx, "old"); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("a session past its absolute expiry was kept (err = %v)", err)
	}
	if _, err := db.Session(ctx, "live"); err != nil {
		t.Errorf("a live session was swept: %v", err)
	}
	// Two sessions cannot share an id.
	if err := db.CreateSession(ctx, live); err == nil {
		t.Error("a second session with a live one's id was stored")
	}
}

// auditLog: entries are stamped with the database's time, listed newest
// first, by incident, and a page at a time.
func auditLog(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	if list, err := db.AuditLog(ctx, linkwatch.AuditQuery{}); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("an empty log = %v, %v; want an empty list", list, err)
	}
	var ids []int64
	for i, e := range []linkwatch.AuditEntry{
		{Actor: "ada", Action: "signin", Client: "192.0.2.1", Outcome: "ok"},
		{Actor: "ada", Action: "incident.acknowledge", IncidentID: 7, Client: "192.0.2.1", Outcome: "ok"},
		{Actor: "bo", Action: "incident.update", IncidentID: 8, Detail: "monitoring: fixed", Client: "2001:db8::1", Outcome: "ok"},
		{Actor: "ada", Action: "incident.resolve", IncidentID: 7, Detail: "fixed upstream", Client: "192.0.2.1", Outcome: "incident 7 is not open"},
	} {
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		got, err := db.Audit(ctx, e)
		must(t, err)
		if got.ID == 0 || !got.At.Equal(clk.Now()) {
			t.Errorf("recorded %+v: want an id and the database's time %v", got, clk.Now())
		}
		ids = append(ids, got.ID)
	}
	all, err := db.AuditLog(ctx, linkwatch.AuditQuery{})
	must(t, err)
	if len(all) != 4 || all[0].ID != ids[3] || all[3].ID != ids[0] {
		t.Fatalf("log = %+v, want 4 entries, newest first", all)
	}
	if e := all[1]; e.Actor != "bo" || e.Action != "incident.update" || e.IncidentID != 8 || e.Detail != "monitoring: fixed" ||
		e.Client != "2001:db8::1" || e.Outcome != "ok" || !e.At.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("entry read back = %+v", e)
	}
	if all[3].IncidentID != 0 {
		t.Errorf("an entry of no incident reads incident %d", all[3].IncidentID)
	}
	of7, err := db.AuditLog(ctx, linkwatch.AuditQuery{IncidentID: 7})
	must(t, err)
	if len(of7) != 2 || of7[0].ID != ids[3] || of7[1].ID != ids[1] {
		t.Errorf("incident 7's entries = %+v, want its two, newest first", of7)
	}
	page, err := db.AuditLog(ctx, linkwatch.AuditQuery{Before: ids[2], Limit: 1})
	must(t, err)
	if len(page) != 1 || page[0].ID != ids[1] {
		t.Errorf("the page before %d = %+v, want entry %d alone", ids[2], page, ids[1])
	}
}

// incidentFilters: incidents are listed by root cause and by page (the
// links they affect), the limit counting those kept.
func incidentFilters(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	var ids []int64
	for i, spec := range []struct {
		cause linkwatch.Cause
		pages []string
	}{
		{linkwatch.CauseDNS, []string{"ada"}},
		{linkwatch.CauseHTTP5xx, []string{"acme", "ada"}},
		{linkwatch.CauseHTTP5xx, []string{"acme"}},
	} {
		inc := openIncident(fmt.Sprintf("dest:https://%d.test/", i), t0.Add(time.Duration(i)*time.Minute))
		inc.Cause = spec.cause
		for _, p := range spec.pages {
			inc.Affected = append(inc.Affected, linkwatch.Affected{Page: p, Link: "l", URL: inc.Targets[0]})
		}
		saved, err := db.Record(ctx, incidents.Change{Incident: inc})
		must(t, err)
		ids = append(ids, saved.ID)
	}
	for _, tc := range []struct {
		q    linkwatch.IncidentQuery
		want []int64
	}{
		{linkwatch.IncidentQuery{Cause: linkwatch.CauseHTTP5xx}, []int64{ids[2], ids[1]}},
		{linkwatch.IncidentQuery{Page: "ada"}, []int64{ids[1], ids[0]}},
		{linkwatch.IncidentQuery{Page: "ada", Limit: 1}, []int64{ids[1]}},
		{linkwatch.IncidentQuery{Page: "ada", Cause: linkwatch.CauseDNS}, []int64{ids[0]}},
		{linkwatch.IncidentQuery{Page: "nope"}, nil},
		{linkwatch.IncidentQuery{Cause: linkwatch.CauseTimeout}, nil},
	} {
		list, err := db.ListIncidents(ctx, tc.q)
		must(t, err)
		var got []int64
		for _, inc := range list {
			got = append(got, inc.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.q, got, tc.want)
		}
	}
}
