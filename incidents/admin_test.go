package incidents_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/incidents"
	"linkwatch/incidents/admin"
)

const adminToken = "test-token-0123456789"

// adminServer serves the admin API over the harness's database, with its
// engine running as serve runs it (operator actions go through it).
func adminServer(t *testing.T, h *harness, token string) *httptest.Server {
	t.Helper()
	runEngine(t, h)
	r := mux.NewRouter()
	admin.New(h.db, admin.Options{Token: token, Operator: h.eng, Channels: []string{"slack", "webhook:ops"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, method, path, token, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %s", method, path, b)
		}
	}
	return resp.StatusCode, out
}

// openIncident gives the harness one open and one resolved incident.
func seedIncidents(t *testing.T, h *harness) (open, resolved int64) {
	t.Helper()
	h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(blog, linkwatch.CauseDNS))
	h.feed(down(shopA, linkwatch.CauseHTTP5xx), down(blog, linkwatch.CauseDNS))
	h.feed(up(blog))
	h.feed(up(blog))
	for _, inc := range h.incidents() {
		if inc.Open() {
			open = inc.ID
		} else {
			resolved = inc.ID
		}
	}
	if open == 0 || resolved == 0 {
		t.Fatalf("seed: %+v", h.incidents())
	}
	return open, resolved
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	off := adminServer(t, h, "")
	if code, body := call(t, off, "GET", "/api/admin/incidents", adminToken, "", ""); code != 404 || !strings.Contains(body["error"].(string), "admin API is off") {
		t.Errorf("no token configured: %d %v; the API must be off, not open", code, body)
	}
	on := adminServer(t, h, adminToken)
	for _, tok := range []string{"", "wrong", adminToken + "x", strings.ToUpper(adminToken)} {
		if code, _ := call(t, on, "GET", "/api/admin/incidents", tok, "", ""); code != 401 {
			t.Errorf("token %q: status %d, want 401", tok, code)
		}
	}
	if code, _ := call(t, on, "GET", "/api/admin/incidents", adminToken, "", ""); code != 200 {
		t.Errorf("valid token: status %d", code)
	}
}

func TestAdminIncidentWorkflow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, resolved := seedIncidents(t, h)
	srv := adminServer(t, h, adminToken)
	id := func(n int64) string { return "/api/admin/incidents/" + jsonNum(n) }

	code, body := call(t, srv, "GET", "/api/admin/incidents?open=true", adminToken, "", "")
	if code != 200 || len(body["incidents"].([]any)) != 1 {
		t.Fatalf("list open: %d %v", code, body)
	}
	code, body = call(t, srv, "POST", id(open)+"/ack", adminToken, "application/json", `{"by":"alice"}`)
	if code != 200 || body["acknowledged_by"] != "alice" {
		t.Fatalf("ack: %d %v", code, body)
	}
	if code, _ := call(t, srv, "POST", id(open)+"/ack", adminToken, "", `{"by":"bob"}`); code != 409 {
		t.Errorf("second ack: %d, want 409", code)
	}
	code, body = call(t, srv, "POST", id(open)+"/updates", adminToken, "application/json", `{"status":"identified","body":"The shop's load balancer is down."}`)
	if code != 201 || body["status"] != "identified" {
		t.Fatalf("post update: %d %v", code, body)
	}
	code, body = call(t, srv, "PUT", id(resolved)+"/postmortem", adminToken, "application/json",
		`{"primary_cause":"DNS zone expired","contributing_factors":"no renewal reminder","why_not_caught":"no expiry check","notes":"renewed","published":true}`)
	if code != 200 || body["postmortem"].(map[string]any)["primary_cause"] != "DNS zone expired" {
		t.Fatalf("postmortem: %d %v", code, body)
	}
	code, body = call(t, srv, "GET", id(open), adminToken, "", "")
	if code != 200 {
		t.Fatalf("show: %d %v", code, body)
	}
	inc := body["incident"].(map[string]any)
	if inc["status"] != "identified" || inc["acknowledged_by"] != "alice" {
		t.Errorf("incident after ack and update: %v", inc)
	}
	var kinds []string
	for _, e := range body["timeline"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if strings.Join(kinds, ",") != "opened,acknowledged,update_posted" {
		t.Errorf("timeline = %v", kinds)
	}
	if len(body["evidence"].([]any)) == 0 || len(body["updates"].([]any)) != 1 {
		t.Errorf("evidence %d, updates %d", len(body["evidence"].([]any)), len(body["updates"].([]any)))
	}
	// The engine's next change must not undo what people set.
	h.feed(down(shopA, linkwatch.CauseHTTP4xx))
	got, _ := h.db.Incident(context.Background(), open)
	if got.Cause != linkwatch.CauseHTTP4xx || got.AcknowledgedBy != "alice" || got.Status != linkwatch.StatusIdentified {
		t.Errorf("after an engine update: cause %s, ack %q, status %s", got.Cause, got.AcknowledgedBy, got.Status)
	}
	if got := alertTypes(h.alerts()); !strings.Contains(strings.Join(got, ","), "incident.updated/update_posted") {
		t.Errorf("posting an update queued no alert: %v", got)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestAdminRejectsBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, resolved := seedIncidents(t, h)
	srv := adminServer(t, h, adminToken)
	inc := "/api/admin/incidents/" + jsonNum(open)
	done := "/api/admin/incidents/" + jsonNum(resolved)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name, method, path, ctype, body string
		wantCode                        int
		wantField                       string
	}{
		{"bad id", "GET", "/api/admin/incidents/abc", "", "", 400, "id"},
		{"negative id", "GET", "/api/admin/incidents/-1", "", "", 400, "id"},
		{"unknown id", "GET", "/api/admin/incidents/99999", "", "", 404, ""},
		{"unknown id ack", "POST", "/api/admin/incidents/99999/ack", "", `{"by":"a"}`, 404, ""},
		{"bad open filter", "GET", "/api/admin/incidents?open=maybe", "", "", 400, "open"},
		{"bad limit", "GET", "/api/admin/incidents?limit=0", "", "", 400, "limit"},
		{"huge limit", "GET", "/api/admin/incidents?limit=100000", "", "", 400, "limit"},
		{"ack without by", "POST", inc + "/ack", "", `{}`, 400, "by"},
		{"ack empty body", "POST", inc + "/ack", "", ``, 400, "(body)"},
		{"ack not json", "POST", inc + "/ack", "", `by=alice`, 400, "(body)"},
		{"ack wrong type", "POST", inc + "/ack", "", `{"by":42}`, 400, "by"},
		{"ack unknown field", "POST", inc + "/ack", "", `{"by":"a","admin":true}`, 400, "admin"},
		{"ack two objects", "POST", inc + "/ack", "", `{"by":"a"}{"by":"b"}`, 400, "(body)"},
		{"ack wrong content type", "POST", inc + "/ack", "text/plain", `{"by":"a"}`, 400, "(body)"},
		{"ack control chars", "POST", inc + "/ack", "", `{"by":"a\u0000b"}`, 400, "by"},
		{"ack resolved", "POST", done + "/ack", "", `{"by":"a"}`, 409, ""},
		{"update bad status", "POST", inc + "/updates", "", `{"status":"fixed","body":"x"}`, 400, "status"},
		{"update empty body", "POST", inc + "/updates", "", `{"status":"identified","body":"  "}`, 400, "body"},
		{"update too long", "POST", inc + "/updates", "", `{"status":"identified","body":"` + strings.Repeat("x", 10001) + `"}`, 400, "body"},
		{"update huge request", "POST", inc + "/updates", "", `{"status":"identified","body":"` + strings.Repeat("x", 70000) + `"}`, 400, "(body)"},
		{"resolve open by hand", "POST", inc + "/updates", "", `{"status":"resolved","body":"done"}`, 409, ""},
		{"reopen resolved", "POST", done + "/updates", "", `{"status":"investigating","body":"again"}`, 409, ""},
		{"publish without cause", "PUT", done + "/postmortem", "", `{"notes":"x","published":true}`, 400, "primary_cause"},
		{"postmortem unknown field", "PUT", done + "/postmortem", "", `{"root_cause":"x"}`, 400, "root_cause"},
		{"maintenance no title", "POST", "/api/admin/maintenance", "", `{"starts_at":"` + future + `","ends_at":"` + later + `"}`, 400, "title"},
		{"maintenance bad component", "POST", "/api/admin/maintenance", "", `{"title":"t","component":"everything","starts_at":"` + future + `","ends_at":"` + later + `"}`, 400, "component"},
		{"maintenance bad time", "POST", "/api/admin/maintenance", "", `{"title":"t","starts_at":"tomorrow","ends_at":"` + later + `"}`, 400, "starts_at"},
		{"maintenance backwards", "POST", "/api/admin/maintenance", "", `{"title":"t","starts_at":"` + later + `","ends_at":"` + future + `"}`, 400, "ends_at"},
		{"maintenance in the past", "POST", "/api/admin/maintenance", "", `{"title":"t","starts_at":"2020-01-01T00:00:00Z","ends_at":"2020-01-02T00:00:00Z"}`, 400, "ends_at"},
		{"maintenance too long", "POST", "/api/admin/maintenance", "", `{"title":"t","starts_at":"` + future + `","ends_at":"2099-01-01T00:00:00Z"}`, 400, "ends_at"},
		{"bad deliveries limit", "GET", "/api/admin/deliveries?limit=0", "", "", 400, "limit"},
		{"delete unknown maintenance", "DELETE", "/api/admin/maintenance/424242", "", "", 404, ""},
		{"unknown endpoint", "GET", "/api/admin/nope", "", "", 404, ""},
		{"wrong method", "DELETE", inc, "", "", 405, ""},
	}
	before := h.alerts()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, srv, tt.method, tt.path, adminToken, tt.ctype, tt.body)
			if code != tt.wantCode {
				t.Fatalf("status %d, want %d: %v", code, tt.wantCode, body)
			}
			if tt.wantField != "" && body["field"] != tt.wantField {
				t.Errorf("field = %v, want %q (%v)", body["field"], tt.wantField, body["error"])
			}
			if code >= 400 && code != 405 && body["error"] == "" {
				t.Error("error response without a message")
			}
		})
	}
	// Nothing changed.
	got, _ := h.db.Incident(context.Background(), open)
	if got.Status != linkwatch.StatusInvestigating || got.AcknowledgedBy != "" {
		t.Errorf("bad requests changed the incident: %+v", got)
	}
	if m, _ := h.db.ListMaintenance(context.Background(), time.Now()); len(m) != 0 {
		t.Errorf("bad requests created maintenance: %+v", m)
	}
	if len(h.alerts()) != len(before) {
		t.Error("bad requests queued alerts")
	}
}

func TestAdminMaintenance(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	srv := adminServer(t, h, adminToken)
	start := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code, body := call(t, srv, "POST", "/api/admin/maintenance", adminToken, "application/json",
		`{"title":"DNS move","component":"host:shop.example","starts_at":"`+start+`","ends_at":"`+end+`"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	id := jsonNum(int64(body["id"].(float64)))
	if code, body := call(t, srv, "GET", "/api/admin/maintenance", adminToken, "", ""); code != 200 || len(body["maintenance"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, body)
	}
	if code, _ := call(t, srv, "DELETE", "/api/admin/maintenance/"+id, adminToken, "", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, body := call(t, srv, "GET", "/api/admin/maintenance", adminToken, "", ""); code != 200 || len(body["maintenance"].([]any)) != 0 {
		t.Fatalf("list after delete: %d %v", code, body)
	}
}

func FuzzAdminBodies(f *testing.F) {
	for _, s := range []string{`{"by":"alice"}`, `{"status":"identified","body":"x"}`, `{}`, `[]`, `{"by":`, `null`, `{"published":true}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		h := newHarness(t, incidents.Config{})
		srv := adminServer(t, h, adminToken)
		for _, p := range []struct{ method, path string }{
			{"POST", "/api/admin/incidents/1/ack"}, {"POST", "/api/admin/incidents/1/updates"},
			{"PUT", "/api/admin/incidents/1/postmortem"}, {"POST", "/api/admin/maintenance"},
		} {
			code, resp := call(t, srv, p.method, p.path, adminToken, "", body)
			if code >= 500 {
				t.Fatalf("%s %s with %q: %d %v", p.method, p.path, body, code, resp)
			}
		}
	})
}

func TestAdminDeliveries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	seedIncidents(t, h)
	if err := h.db.FanOut(context.Background(), []string{"webhook:ops"}); err != nil {
		t.Fatal(err)
	}
	srv := adminServer(t, h, adminToken)
	code, body := call(t, srv, "GET", "/api/admin/deliveries?limit=10", adminToken, "", "")
	if code != 200 {
		t.Fatalf("deliveries: %d %v", code, body)
	}
	list := body["deliveries"].([]any)
	if len(list) != len(h.alerts()) || len(list) == 0 {
		t.Fatalf("%d deliveries, want one per queued alert (%d)", len(list), len(h.alerts()))
	}
	d := list[0].(map[string]any)
	for _, k := range []string{"event_id", "type", "incident_id", "channel", "status", "attempts", "next_at"} {
		if _, ok := d[k]; !ok {
			t.Errorf("delivery lacks %q: %v", k, d)
		}
	}
	if d["status"] != "pending" || d["channel"] != "webhook:ops" {
		t.Errorf("delivery = %v", d)
	}
}

// oldEvidence is a store whose evidence rows were written before results
// were stored with _ms fields: nanoseconds under unsuffixed names.
type oldEvidence struct{ admin.Store }

func (oldEvidence) IncidentEvidence(context.Context, int64) ([]json.RawMessage, error) {
	return []json.RawMessage{json.RawMessage(`{"target_id":"https://shop.example/a","kind":"destination","url":"https://shop.example/a",` +
		`"start":"2026-11-22T12:00:00Z","latency":1500000,"status":"degraded","status_code":429,"cause":"rate_limited","fresh":true,` +
		`"hops":[{"url":"https://shop.example/a","status_code":429,"new_conn":true,"phases":{"dns":2000000,"connect":3500000,"tls":20000000,"first_byte":250000000,"transfer":1000000}}],` +
		`"bytes_read":0,"retry_after":30000000000}`)}, nil
}

// Every duration the admin API shows is in milliseconds, named _ms, as in
// webhooks: an incident's evidence too, the rows stored in nanoseconds
// before included.
func TestAdminEvidenceInMilliseconds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, _ := seedIncidents(t, h)
	for name, store := range map[string]admin.Store{"stored now": h.db, "stored in nanoseconds": oldEvidence{h.db}} {
		r := mux.NewRouter()
		admin.New(store, admin.Options{Token: adminToken, Log: slog.New(slog.DiscardHandler)}).Register(r)
		srv := httptest.NewServer(r)
		code, body := call(t, srv, "GET", "/api/admin/incidents/"+jsonInt(open), adminToken, "", "")
		srv.Close()
		if code != 200 {
			t.Fatalf("%s: %d %v", name, code, body)
		}
		ev := body["evidence"].([]any)
		if len(ev) == 0 {
			t.Fatalf("%s: no evidence", name)
		}
		for _, e := range ev {
			m := e.(map[string]any)
			if _, ok := m["latency_ms"].(float64); !ok || m["latency"] != nil {
				t.Errorf("%s: evidence without latency_ms, or with nanoseconds: %v", name, m)
			}
			hops, _ := m["hops"].([]any)
			for _, hop := range hops {
				hp := hop.(map[string]any)
				if _, ok := hp["first_byte_ms"].(float64); !ok || hp["phases"] != nil {
					t.Errorf("%s: a hop without first_byte_ms, or with nanosecond phases: %v", name, hp)
				}
			}
		}
		if name == "stored in nanoseconds" {
			m := ev[0].(map[string]any)
			hop := m["hops"].([]any)[0].(map[string]any)
			if m["latency_ms"] != 1.5 || m["retry_after_ms"] != 30000.0 || hop["connect_ms"] != 3.5 || hop["first_byte_ms"] != 250.0 {
				t.Errorf("the nanoseconds read wrong: %v", m)
			}
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
