package incidents_test

import (
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

// Bad admin input is refused with the field it concerns, in JSON's words,
// and changes nothing.
func TestAdminRefusesHostileInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	open, _ := seedIncidents(t, h)
	runEngine(t, h)
	r := mux.NewRouter()
	admin.New(h.db, admin.Options{Token: adminToken, Operator: h.eng, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Catalog: linkwatch.PageLinks{"ada": nil, "acme": nil}}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	inc := "/api/admin/incidents/" + jsonNum(open)
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	window := func(title, component, start, end string) string {
		return `{"title":` + title + `,"component":"` + component + `","starts_at":"` + start + `","ends_at":"` + end + `"}`
	}
	tests := []struct {
		name, method, path, ctype, body string
		wantCode                        int
		wantField                       string
	}{
		{"a list, not an object", "POST", inc + "/ack", "", `[]`, 400, "(body)"},
		{"a list for a string", "POST", inc + "/ack", "", `{"by":["a"]}`, 400, "by"},
		{"a number for a time", "POST", "/api/admin/maintenance", "", `{"title":"t","starts_at":5}`, 400, "starts_at"},
		{"content type jsonx", "POST", inc + "/ack", "application/jsonx", `{"by":"a"}`, 400, "(body)"},
		{"content type json-seq", "POST", inc + "/ack", "application/json-seq", `{"by":"a"}`, 400, "(body)"},
		{"title with CR/LF", "POST", "/api/admin/maintenance", "", window(`"db move\r\nlevel=ERROR msg=forged"`, "", soon, later), 400, "title"},
		{"by with a newline", "POST", inc + "/ack", "", `{"by":"alice\nroot"}`, 400, "by"},
		{"starts in year 9999", "POST", "/api/admin/maintenance", "", window(`"t"`, "", "9999-01-01T00:00:00Z", "9999-01-02T00:00:00Z"), 400, "starts_at"},
		{"unknown page", "POST", "/api/admin/maintenance", "", window(`"t"`, "page:nope", soon, later), 400, "component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, srv, tt.method, tt.path, adminToken, tt.ctype, tt.body)
			if code != tt.wantCode || body["field"] != tt.wantField {
				t.Fatalf("status %d field %v (%v), want %d field %q", code, body["field"], body["error"], tt.wantCode, tt.wantField)
			}
			if msg, _ := body["error"].(string); strings.Contains(msg, "struct") || strings.Contains(msg, "time.Time") || strings.Contains(msg, "[]") {
				t.Errorf("the error names a Go type: %q", msg)
			}
		})
	}
	if m, _ := h.db.ListMaintenance(t.Context(), time.Now()); len(m) != 0 {
		t.Errorf("refused requests created maintenance: %+v", m)
	}
	if got, _ := h.db.Incident(t.Context(), open); got.AcknowledgedBy != "" {
		t.Errorf("refused requests acknowledged the incident: %+v", got)
	}

	// What is right is accepted: a media type in any case, with parameters,
	// and a window on a configured page.
	if code, body := call(t, srv, "POST", inc+"/ack", adminToken, "APPLICATION/JSON", `{"by":"alice"}`); code != 200 {
		t.Errorf("Content-Type APPLICATION/JSON: status %d %v", code, body)
	}
	if code, body := call(t, srv, "POST", inc+"/updates", adminToken, "application/json; charset=utf-8", `{"status":"identified","body":"x"}`); code != 201 {
		t.Errorf("Content-Type with charset: status %d %v", code, body)
	}
	if code, body := call(t, srv, "POST", "/api/admin/maintenance", adminToken, "application/json", window(`"db move"`, "page:ada", soon, later)); code != 201 {
		t.Errorf("a window on a configured page: status %d %v", code, body)
	}
}
