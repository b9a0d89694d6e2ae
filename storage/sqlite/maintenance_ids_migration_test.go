package sqlite

import (
	"context"
	"testing"
	"time"

	"linkwatch"
)

// TestMaintenanceIDsMigration: after the maintenance tables are made
// again with AUTOINCREMENT, their windows are as they were, and a new
// window never takes an id that a window deleted before the migration
// had, named by its alerts in the outbox: it is announced, not taken for
// one already announced.
func TestMaintenanceIDsMigration(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBut(t, "_maintenance_ids.sql")
	const at = "2026-11-22T10:00:00.000000000Z"
	for _, q := range []string{
		// Window 1 is kept; 2 and recurring 4 were deleted, their alerts stay.
		`INSERT INTO maintenance (id, title, component, starts_at, ends_at, created_at) VALUES (1, 'kept', 'page:acme', ?1, ?1, ?1)`,
		`INSERT INTO recurring_maintenance (id, title, component, schedule, duration_s, created_at) VALUES (1, 'nightly', '', '0 2 * * *', 3600, ?1)`,
		`INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES ('maintenance.scheduled.2', 'maintenance.scheduled', NULL, '{}', ?1)`,
		`INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES ('maintenance.cancelled.2', 'maintenance.cancelled', NULL, '{}', ?1)`,
		`INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES ('maintenance.started.r4-20261122T0200Z', 'maintenance.started', NULL, '{}', ?1)`,
	} {
		if _, err := raw.ExecContext(ctx, q, at); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list, err := db.ListMaintenance(ctx, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(list) == 0 || list[0].ID != 1 || list[0].Component != "page:acme" || list[0].Title != "kept" {
		t.Fatalf("windows after the migration: %v %+v", err, list)
	}
	if list, err := db.ListRecurringMaintenance(ctx); err != nil || len(list) != 1 || list[0].ID != 1 || list[0].Duration != time.Hour || list[0].Schedule != "0 2 * * *" {
		t.Fatalf("recurring windows after the migration: %v %+v", err, list)
	}
	start := time.Now().Add(time.Hour).UTC()
	m, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "new", StartsAt: start, EndsAt: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 3 {
		t.Errorf("a new window has id %d, want 3: above the deleted window 2 its alerts name", m.ID)
	}
	r, err := db.CreateRecurringMaintenance(ctx, linkwatch.RecurringMaintenance{Title: "weekly", Schedule: "0 2 * * SUN", Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != 5 {
		t.Errorf("a new recurring window has id %d, want 5: above the deleted window 4 its alerts name", r.ID)
	}
	out, err := db.Outbox(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if last := out[len(out)-2]; last.EventID != "maintenance.scheduled.3" {
		t.Errorf("the new window is not announced: the outbox ends with %s", last.EventID)
	}
}
