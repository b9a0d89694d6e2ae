package incidents_test

import (
	"context"
	"strings"
	"testing"

	"linkwatch"
	"linkwatch/incidents"
)

// TestInternalNotes: an update posted with "internal": true is a note on
// the timeline, naming who wrote it, and nothing else: no public update,
// no status change, no alert. A note with a status, or without a body,
// is refused and writes nothing; a public update names who posted it on
// the timeline when told.
func TestInternalNotes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, resolved := seedIncidents(t, h)
	srv := adminServer(t, h, adminToken)
	ctx := context.Background()
	path := func(id int64) string { return "/api/admin/incidents/" + jsonNum(id) + "/updates" }
	alerts := len(h.alerts())
	before, _ := h.db.Incident(ctx, open)

	for _, id := range []int64{open, resolved} {
		code, body := call(t, srv, "POST", path(id), adminToken, "application/json", `{"internal":true,"by":"alice","body":"Upstream says 20 minutes."}`)
		if code != 201 || body["kind"] != "note" || body["body"] != "internal note by alice: Upstream says 20 minutes." {
			t.Fatalf("note on %d: %d %v", id, code, body)
		}
		if u, _ := h.db.IncidentUpdates(ctx, id); len(u) > 1 || len(u) == 1 && u[0].Status != linkwatch.StatusResolved {
			t.Errorf("a note made a public update on %d: %+v", id, u)
		}
	}
	if after, _ := h.db.Incident(ctx, open); after.Status != before.Status {
		t.Errorf("a note changed the status: %s to %s", before.Status, after.Status)
	}
	if got := h.alerts(); len(got) != alerts {
		t.Errorf("a note alerted: %v", alertTypes(got[alerts:]))
	}
	for _, tc := range []struct{ body, field string }{
		{`{"internal":true,"status":"monitoring","body":"x"}`, "status"},
		{`{"internal":true,"body":"  "}`, "body"},
		{`{"internal":true,"body":"x"}`, "by"}, // a note names whom to ask
		{`{"internal":true,"body":"x","by":"a\nb"}`, "by"},
		{`{"status":"monitoring","body":"x","by":"a\nb"}`, "by"},
	} {
		code, body := call(t, srv, "POST", path(open), adminToken, "application/json", tc.body)
		if code != 400 || body["field"] != tc.field {
			t.Errorf("%s: %d %v, want 400 naming %s", tc.body, code, body, tc.field)
		}
	}
	code, _ := call(t, srv, "POST", path(open), adminToken, "application/json", `{"status":"monitoring","body":"Fixed upstream.","by":"bob"}`)
	if code != 201 {
		t.Fatalf("public update: %d", code)
	}
	ev, _ := h.db.IncidentEvents(ctx, open)
	var notes, updates []string
	for _, e := range ev {
		switch e.Kind {
		case linkwatch.EventNote:
			notes = append(notes, e.Body)
		case linkwatch.EventUpdatePosted:
			updates = append(updates, e.Body)
		}
	}
	if len(notes) != 1 || len(updates) != 1 || updates[0] != "monitoring by bob: Fixed upstream." {
		t.Errorf("timeline: notes %q, updates %q", notes, updates)
	}
}

// TestListIncidentsByPageAndCause: the list filters by page (the links an
// incident affects) and by root cause; an unknown cause is bad input.
func TestListIncidentsByPageAndCause(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, resolved := seedIncidents(t, h) // shop/a http_5xx on acme, open; blog dns on ada, resolved
	srv := adminServer(t, h, adminToken)
	ids := func(q string) []int64 {
		t.Helper()
		code, body := call(t, srv, "GET", "/api/admin/incidents"+q, adminToken, "", "")
		if code != 200 {
			t.Fatalf("list %s: %d %v", q, code, body)
		}
		var out []int64
		for _, inc := range body["incidents"].([]any) {
			out = append(out, int64(inc.(map[string]any)["id"].(float64)))
		}
		return out
	}
	for q, want := range map[string][]int64{
		"?page=acme": {open}, "?page=ada": {resolved}, "?cause=dns": {resolved}, "?cause=http_5xx&page=acme": {open},
		"?cause=timeout": nil, "?page=ada&cause=http_5xx": nil, "?page=ada&limit=1": {resolved},
	} {
		if got := ids(q); len(got) != len(want) || len(want) == 1 && got[0] != want[0] {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	code, body := call(t, srv, "GET", "/api/admin/incidents?cause=broken", adminToken, "", "")
	if msg, _ := body["error"].(string); code != 400 || body["field"] != "cause" || !strings.Contains(msg, "root cause") {
		t.Errorf("an unknown cause: %d %v", code, body)
	}
}
