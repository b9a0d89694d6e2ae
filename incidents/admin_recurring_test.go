package incidents_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"linkwatch/incidents"
	"linkwatch/incidents/admin"
)

// TestAdminRecurringMaintenance: a recurring window is made, listed with
// its next three occurrences, listed among the windows, and deleted. A
// bad schedule or duration is a 400 naming the field, and nothing is
// stored: a window overlapping itself (two hours at 02:30 Berlin time
// overlap the night the clocks go back) included.
func TestAdminRecurringMaintenance(t *testing.T) {
	t.Parallel()
	h := newHarness(t, incidents.Config{})
	r := mux.NewRouter()
	admin.New(h.db, admin.Options{Token: adminToken, Now: func() time.Time { return t0 }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	for _, bad := range []struct{ body, field, says string }{
		{`{"schedule":"0 2 * * SUN","duration":"1h"}`, "title", "required"},
		{`{"title":"patch","component":"nowhere","schedule":"0 2 * * SUN","duration":"1h"}`, "component", "must be empty"},
		{`{"title":"patch","duration":"1h"}`, "schedule", "required"},
		{`{"title":"patch","schedule":"0 2 * *","duration":"1h"}`, "schedule", "exactly 5 fields"},
		{`{"title":"patch","schedule":"0 25 * * *","duration":"1h"}`, "schedule", "not a cron expression"},
		{`{"title":"patch","schedule":"@every 1h","duration":"1m"}`, "schedule", "@every"},
		{`{"title":"patch","schedule":"0 0 30 2 *","duration":"1h"}`, "schedule", "never fires"},
		{`{"title":"patch","schedule":"CRON_TZ=Mars/Olympus 0 2 * * *","duration":"1h"}`, "schedule", "Mars/Olympus"},
		{`{"title":"patch","schedule":"0 2 * * SUN"}`, "duration", "required"},
		{`{"title":"patch","schedule":"0 2 * * SUN","duration":"an hour"}`, "duration", "not a duration"},
		{`{"title":"patch","schedule":"0 2 * * SUN","duration":"0s"}`, "duration", "positive"},
		{`{"title":"patch","schedule":"0 2 * * SUN","duration":"-1h"}`, "duration", "positive"},
		{`{"title":"patch","schedule":"0 2 * * SUN","duration":"90s"}`, "duration", "whole minutes"},
		{`{"title":"patch","schedule":"0 2 * * SUN","duration":"169h"}`, "duration", "at most 168h0m0s"},
		{`{"title":"patch","schedule":"0 * * * *","duration":"61m"}`, "duration", "overlap the next"},
		{`{"title":"patch","schedule":"CRON_TZ=Europe/Berlin 30 2 * * *","duration":"2h"}`, "duration", "2027-10-31T02:30:00+02:00 and again at 2027-10-31T02:30:00+01:00, 1h0m0s later"},
		{`{"title":"patch","schedule":"0 2 * * SUN","duration":3600}`, "duration", "string"},
	} {
		code, body := call(t, srv, "POST", "/api/admin/maintenance/recurring", adminToken, "application/json", bad.body)
		if code != 400 || body["field"] != bad.field || !strings.Contains(body["error"].(string), bad.says) {
			t.Errorf("%s: %d %v, want 400 on %s saying %q", bad.body, code, body, bad.field, bad.says)
		}
	}
	if list, err := h.db.ListRecurringMaintenance(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("bad requests stored %+v (%v)", list, err)
	}

	// Made on Sunday 22 November 2026 at noon UTC: 02:00 Berlin time on
	// Sundays is 01:00 UTC in winter.
	code, body := call(t, srv, "POST", "/api/admin/maintenance/recurring", adminToken, "application/json",
		`{"title":"Weekly patching","component":"hub","schedule":"CRON_TZ=Europe/Berlin 0 2 * * SUN","duration":"1h"}`)
	if code != 201 || body["duration"] != "1h0m0s" || body["schedule"] != "CRON_TZ=Europe/Berlin 0 2 * * SUN" {
		t.Fatalf("create: %d %v", code, body)
	}
	id := strconv.FormatInt(int64(body["id"].(float64)), 10)
	var starts []string
	for _, m := range body["next"].([]any) {
		starts = append(starts, m.(map[string]any)["starts_at"].(string))
	}
	if want := "2026-11-29T01:00:00Z 2026-12-06T01:00:00Z 2026-12-13T01:00:00Z"; strings.Join(starts, " ") != want {
		t.Errorf("next = %v, want %s", starts, want)
	}
	if code, body := call(t, srv, "GET", "/api/admin/maintenance/recurring", adminToken, "", ""); code != 200 || len(body["recurring"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, body)
	}
	code, body = call(t, srv, "GET", "/api/admin/maintenance", adminToken, "", "")
	if list := body["maintenance"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["recurring_id"] != float64(1) {
		t.Fatalf("windows: %d %v, want the next occurrence", code, body)
	}
	if code, _ := call(t, srv, "DELETE", "/api/admin/maintenance/recurring/"+id, adminToken, "", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call(t, srv, "DELETE", "/api/admin/maintenance/recurring/"+id, adminToken, "", ""); code != 404 {
		t.Fatalf("delete twice: %d", code)
	}
	if code, body := call(t, srv, "GET", "/api/admin/maintenance", adminToken, "", ""); code != 200 || len(body["maintenance"].([]any)) != 0 {
		t.Fatalf("windows after delete: %d %v", code, body)
	}
}
