package incidents_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/incidents"
	"linkwatch/incidents/admin"
)

// adminState is everything the admin API can change, as JSON, to see that
// a refused request changed none of it.
func adminState(t *testing.T, h *harness) string {
	t.Helper()
	ctx := context.Background()
	var all []any
	for _, inc := range h.incidents() {
		full, err := h.db.Incident(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		events, err1 := h.db.IncidentEvents(ctx, inc.ID)
		updates, err2 := h.db.IncidentUpdates(ctx, inc.ID)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		all = append(all, full, events, updates)
	}
	maint, err := h.db.ListMaintenance(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	channels, err := h.db.ChannelStates(ctx, []string{"slack", "webhook:ops"})
	if err != nil {
		t.Fatal(err)
	}
	subs, err := h.db.ListSubscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deliveries, err := h.db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"incidents": all, "maintenance": maint, "channels": channels, "subscriptions": subs,
		"deliveries": deliveries, "outbox": h.alerts()})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every endpoint that takes a body refuses, with a 400 and nothing
// changed, a body that is not one JSON object of known fields: null
// (which decoded into nothing, so PUT .../postmortem with null wiped a
// published postmortem), a list, a string, a number, a boolean, nothing,
// an object followed by more, an unknown field.
func TestAdminBodiesAreOneObjectEverywhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, resolved := seedIncidents(t, h)
	runEngine(t, h)
	r := mux.NewRouter()
	admin.New(h.db, admin.Options{Token: adminToken, Operator: h.eng, Channels: []string{"slack", "webhook:ops"},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), NewSecret: func() string { return "whsec_MDEyMzQ1Njc4OWFiY2RlZg==" },
		CheckURL: func(context.Context, string) error { return nil }}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	inc, done := "/api/admin/incidents/"+jsonNum(open), "/api/admin/incidents/"+jsonNum(resolved)
	// A published postmortem, a window and a subscription: what a bad
	// request could wipe or change.
	if code, body := call(t, srv, "PUT", done+"/postmortem", adminToken, "", `{"primary_cause":"a bad deploy","published":true}`); code != 200 {
		t.Fatalf("postmortem: %d %v", code, body)
	}
	soon, later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339), time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339)
	if code, body := call(t, srv, "POST", "/api/admin/maintenance", adminToken, "", `{"title":"db move","starts_at":"`+soon+`","ends_at":"`+later+`"}`); code != 201 {
		t.Fatalf("maintenance: %d %v", code, body)
	}
	code, body := call(t, srv, "POST", "/api/admin/subscriptions", adminToken, "", `{"url":"https://hooks.example/a"}`)
	if code != 201 {
		t.Fatalf("subscription: %d %v", code, body)
	}
	sub := "/api/admin/subscriptions/" + jsonNum(int64(body["id"].(float64)))
	before := adminState(t, h)

	// Each endpoint with a body it would accept: the variants below differ
	// from it only in what the one reader of bodies must refuse.
	endpoints := []struct{ method, path, valid string }{
		{"POST", inc + "/ack", `{"by":"alice"}`},
		{"POST", inc + "/updates", `{"status":"identified","body":"found it"}`},
		{"POST", inc + "/resolve", `{"by":"alice","note":"fixed"}`},
		{"PUT", done + "/postmortem", `{"primary_cause":"another cause","published":false}`},
		{"POST", "/api/admin/maintenance", `{"title":"another","starts_at":"` + soon + `","ends_at":"` + later + `"}`},
		{"POST", "/api/admin/channels", `{"name":"slack","enabled":false}`},
		{"POST", "/api/admin/subscriptions", `{"url":"https://hooks.example/b"}`},
		{"PATCH", sub, `{"paused":true}`},
	}
	for _, ep := range endpoints {
		inner := strings.TrimSuffix(strings.TrimPrefix(ep.valid, "{"), "}")
		for _, bad := range []struct{ body, field string }{
			{`null`, "(body)"},
			{" \n null \n", "(body)"},
			{`[]`, "(body)"},
			{`[` + ep.valid + `]`, "(body)"},
			{`"` + strings.ReplaceAll(ep.valid, `"`, `\"`) + `"`, "(body)"},
			{`42`, "(body)"},
			{`-1.5e3`, "(body)"},
			{`true`, "(body)"},
			{``, "(body)"},
			{"  \n", "(body)"},
			{ep.valid + ` {}`, "(body)"},
			{ep.valid + ep.valid, "(body)"},
			{ep.valid + `}`, "(body)"},
			{ep.valid + `]`, "(body)"},
			{ep.valid + ` null`, "(body)"},
			{ep.valid + ` x`, "(body)"},
			{`{` + inner, "(body)"},
			{`{` + inner + `,"zzz":1}`, "zzz"},
		} {
			code, resp := call(t, srv, ep.method, ep.path, adminToken, "application/json", bad.body)
			if code != 400 || resp["field"] != bad.field {
				t.Errorf("%s %s with %.60q: %d %v, want 400 naming %s", ep.method, ep.path, bad.body, code, resp, bad.field)
			}
			if after := adminState(t, h); after != before {
				t.Fatalf("%s %s with %.60q changed the database:\nbefore %s\nafter  %s", ep.method, ep.path, bad.body, before, after)
			}
		}
	}
	// The valid bodies are accepted (so the refusals above are the
	// reader's, not some other check's).
	for _, ep := range endpoints {
		if code, resp := call(t, srv, ep.method, ep.path, adminToken, "application/json", ep.valid); code >= 300 {
			t.Errorf("%s %s with %s: %d %v", ep.method, ep.path, ep.valid, code, resp)
		}
	}
}

// The endpoints that take no body (an action named by its path, a DELETE)
// take none or an empty object; any other body is refused as the
// endpoints with a body refuse it, before the action: a POST .../rotate
// with null rotated the secret, and a DELETE with a list deleted.
func TestAdminBodilessEndpointsRefuseBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	seedIncidents(t, h)
	runEngine(t, h)
	ctx := context.Background()
	if err := h.db.FanOut(ctx, []string{"slack"}); err != nil {
		t.Fatal(err)
	}
	deliveries, err := h.db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 1})
	if err != nil || len(deliveries) == 0 {
		t.Fatalf("no delivery to redeliver: %v", err)
	}
	r := mux.NewRouter()
	admin.New(h.db, admin.Options{Token: adminToken, Operator: h.eng, Channels: []string{"slack", "webhook:ops"},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), NewSecret: func() string { return "whsec_MDEyMzQ1Njc4OWFiY2RlZg==" },
		CheckURL: func(context.Context, string) error { return nil }}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	soon, later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339), time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339)
	code, body := call(t, srv, "POST", "/api/admin/maintenance", adminToken, "", `{"title":"db move","starts_at":"`+soon+`","ends_at":"`+later+`"}`)
	if code != 201 {
		t.Fatalf("maintenance: %d %v", code, body)
	}
	window := "/api/admin/maintenance/" + jsonNum(int64(body["id"].(float64)))
	if code, body = call(t, srv, "POST", "/api/admin/subscriptions", adminToken, "", `{"url":"https://hooks.example/a"}`); code != 201 {
		t.Fatalf("subscription: %d %v", code, body)
	}
	sub := "/api/admin/subscriptions/" + jsonNum(int64(body["id"].(float64)))
	before := adminState(t, h)

	endpoints := []struct{ method, path string }{
		{"POST", sub + "/rotate"},
		{"POST", sub + "/verify"},
		{"POST", sub + "/replay?since=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		{"POST", "/api/admin/deliveries/" + jsonNum(deliveries[0].ID) + "/redeliver"},
		{"DELETE", window},
		{"DELETE", sub},
	}
	for _, ep := range endpoints {
		for _, bad := range []struct{ body, field string }{
			{`null`, "(body)"},
			{`[]`, "(body)"},
			{`"x"`, "(body)"},
			{`0`, "(body)"},
			{`false`, "(body)"},
			{`{}{}`, "(body)"},
			{`{} null`, "(body)"},
			{`{`, "(body)"},
			{`{"by":"alice"}`, "by"},
		} {
			code, resp := call(t, srv, ep.method, ep.path, adminToken, "application/json", bad.body)
			if code != 400 || resp["field"] != bad.field {
				t.Errorf("%s %s with %q: %d %v, want 400 naming %s", ep.method, ep.path, bad.body, code, resp, bad.field)
			}
			if after := adminState(t, h); after != before {
				t.Fatalf("%s %s with %q changed the database:\nbefore %s\nafter  %s", ep.method, ep.path, bad.body, before, after)
			}
		}
		if code, resp := call(t, srv, ep.method, ep.path, adminToken, "text/plain", `{}`); code != 400 {
			t.Errorf("%s %s with a text/plain body: %d %v, want 400", ep.method, ep.path, code, resp)
		}
	}
	// No body, or an empty object, is the endpoint's to answer (a DELETE
	// last, as it removes what the others act on).
	for _, ep := range endpoints {
		for _, ok := range []string{"", " {} \n"} {
			if code, resp := call(t, srv, ep.method, ep.path, adminToken, "", ok); code == 400 {
				t.Errorf("%s %s with %q: %d %v, want the endpoint's answer", ep.method, ep.path, ok, code, resp)
			}
			if ep.method == "DELETE" {
				break
			}
		}
	}
}
