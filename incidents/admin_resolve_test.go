package incidents_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"linkwatch"
	"linkwatch/incidents"
)

// runEngine runs the harness's engine, as serve does, for operator actions.
func runEngine(t *testing.T, h *harness) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.eng.Run(ctx, nil); close(done) }()
	incidents.Sync(h.eng) // its start-up work is done before the test feeds it
	t.Cleanup(func() { cancel(); <-done })
}

// TestOperatorResolvesWithANote: any open incident can be resolved by hand;
// the note is a public update and the resolution alert carries it. Its
// target must fail the threshold again to open a new incident.
func TestOperatorResolvesWithANote(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, resolved := seedIncidents(t, h)
	srv := adminServer(t, h, adminToken)
	path := "/api/admin/incidents/" + jsonNum(open) + "/resolve"

	for _, bad := range []struct{ body, field string }{
		{`{"by":"alice"}`, "note"},
		{`{"note":"moved"}`, "by"},
		{`{"by":"alice","note":"   "}`, "note"},
		{`{"by":"alice","note":"x","extra":1}`, "extra"},
	} {
		code, body := call(t, srv, "POST", path, adminToken, "application/json", bad.body)
		if code != 400 || body["field"] != bad.field {
			t.Errorf("%s: %d %v, want 400 naming %s", bad.body, code, body, bad.field)
		}
	}
	if inc, _ := h.db.Incident(context.Background(), open); !inc.Open() {
		t.Fatal("a refused request resolved the incident")
	}
	if code, _ := call(t, srv, "POST", "/api/admin/incidents/999/resolve", adminToken, "application/json", `{"by":"a","note":"b"}`); code != 404 {
		t.Errorf("unknown incident: %d, want 404", code)
	}
	if code, _ := call(t, srv, "POST", "/api/admin/incidents/"+jsonNum(resolved)+"/resolve", adminToken, "application/json", `{"by":"a","note":"b"}`); code != 409 {
		t.Errorf("already resolved: %d, want 409", code)
	}

	code, body := call(t, srv, "POST", path, adminToken, "application/json", `{"by":"alice","note":"The shop moved; link updated."}`)
	if code != 200 || body["status"] != "resolved" {
		t.Fatalf("resolve: %d %v", code, body)
	}
	ups, _ := h.db.IncidentUpdates(context.Background(), open)
	if len(ups) != 1 || ups[0].Body != "The shop moved; link updated." || ups[0].Status != linkwatch.StatusResolved {
		t.Errorf("updates = %+v", ups)
	}
	alerts := h.alerts()
	last := alerts[len(alerts)-1]
	if last.Type != linkwatch.AlertResolved || last.IncidentID != open || last.Update == nil || last.Update.Body != "The shop moved; link updated." {
		t.Errorf("last alert = %+v", last)
	}
	// The engine no longer holds it: the still-failing link needs the
	// threshold again, then opens a new incident rather than colliding.
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	if n := len(h.incidents()); n != 2 {
		t.Fatalf("%d incidents after one more failure, want still 2", n)
	}
	h.feed(down(shopA, linkwatch.CauseHTTP5xx))
	list := h.incidents()
	if len(list) != 3 || !list[0].Open() {
		t.Fatalf("incidents = %v, want a new open one", keys(list))
	}
}

// TestPostingResolvedToAnOpenIncidentPointsToResolve: the update endpoint
// does not close an open incident behind the engine's back.
func TestPostingResolvedToAnOpenIncidentPointsToResolve(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, _ := seedIncidents(t, h)
	srv := adminServer(t, h, adminToken)
	code, body := call(t, srv, "POST", "/api/admin/incidents/"+jsonNum(open)+"/updates", adminToken, "application/json", `{"status":"resolved","body":"fixed"}`)
	if code != 409 || !strings.Contains(body["error"].(string), "/resolve") {
		t.Errorf("%d %v", code, body)
	}
}

// TestOperatorUpdateReachesTheOutbox: the text of an update is in the alert.
func TestOperatorUpdateReachesTheOutbox(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, _ := seedIncidents(t, h)
	srv := adminServer(t, h, adminToken)
	if code, body := call(t, srv, "POST", "/api/admin/incidents/"+jsonNum(open)+"/updates", adminToken, "application/json",
		`{"status":"identified","body":"identified: rolling back"}`); code != 201 {
		t.Fatalf("%d %v", code, body)
	}
	alerts := h.alerts()
	last := alerts[len(alerts)-1]
	if last.Reason != "update_posted" || last.Update == nil || last.Update.Body != "identified: rolling back" || last.Update.Status != linkwatch.StatusIdentified {
		t.Errorf("last alert = %+v", last)
	}
}

func TestAdminChannels(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	srv := adminServer(t, h, adminToken)
	ctx := context.Background()
	if err := h.db.DisableChannel(ctx, "webhook:ops", "POST https://hooks.example/x: 410 Gone"); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, srv, "GET", "/api/admin/channels", adminToken, "", "")
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	got := map[string]bool{}
	for _, c := range body["channels"].([]any) {
		m := c.(map[string]any)
		got[m["name"].(string)] = m["enabled"].(bool)
		if m["name"] == "webhook:ops" && !strings.Contains(m["reason"].(string), "410") {
			t.Errorf("disabled channel without its reason: %v", m)
		}
	}
	if len(got) != 2 || !got["slack"] || got["webhook:ops"] {
		t.Fatalf("channels = %v", got)
	}

	for _, bad := range []struct{ body, field string }{
		{`{"enabled":true}`, "name"},
		{`{"name":"webhook:nope","enabled":true}`, "name"},
		{`{"name":"webhook:ops"}`, "enabled"},
		{`{"name":"webhook:ops","enabled":"yes"}`, "enabled"},
	} {
		code, body := call(t, srv, "POST", "/api/admin/channels", adminToken, "application/json", bad.body)
		if code != 400 || body["field"] != bad.field {
			t.Errorf("%s: %d %v, want 400 naming %s", bad.body, code, body, bad.field)
		}
	}
	if off, _ := h.db.DisabledChannels(ctx); len(off) != 1 {
		t.Fatalf("a refused request changed the channels: %v", off)
	}

	// An alert made while it is off is not replayed when it comes back on;
	// the next one reaches it.
	seedIncidents(t, h)
	code, body = call(t, srv, "POST", "/api/admin/channels", adminToken, "application/json", `{"name":"webhook:ops","enabled":true}`)
	if code != 200 || body["enabled"] != true {
		t.Fatalf("enable: %d %v", code, body)
	}
	if err := h.db.FanOut(ctx, []string{"webhook:ops"}); err != nil {
		t.Fatal(err)
	}
	if log, _ := h.db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 100}); len(log) != 0 {
		t.Fatalf("re-enabled channel got the backlog: %+v", log)
	}
	h.feed(up(shopA))
	h.feed(up(shopA)) // resolves the open incident
	if err := h.db.FanOut(ctx, []string{"webhook:ops"}); err != nil {
		t.Fatal(err)
	}
	log, _ := h.db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 100})
	if len(log) != 1 || log[0].Type != linkwatch.AlertResolved || log[0].Channel != "webhook:ops" {
		t.Fatalf("deliveries after re-enabling = %+v", log)
	}

	code, body = call(t, srv, "POST", "/api/admin/channels", adminToken, "application/json", `{"name":"slack","enabled":false,"reason":"channel archived"}`)
	if code != 200 || body["enabled"] != false || !strings.Contains(body["reason"].(string), "channel archived") {
		t.Fatalf("disable: %d %v", code, body)
	}
	off, _ := h.db.DisabledChannels(ctx)
	if names := slices.Sorted(maps.Keys(off)); !slices.Equal(names, []string{"slack"}) {
		t.Errorf("disabled = %v", names)
	}
}
