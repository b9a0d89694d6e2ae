package sqlite

import (
	"context"
	"database/sql"
	"testing"

	"linkwatch"
)

// TestMaintenanceAlertsMigration: the outbox made again so incident_id
// may be NULL keeps its alerts and their deliveries, ids, columns and
// foreign keys as they were, and then takes a maintenance alert.
func TestMaintenanceAlertsMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, raw := migratedBut(t, "_maintenance_alerts.sql")
	const at = "2026-11-22T10:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO incidents (id, key, kind, title, cause, summary, status, impact, targets, affected, started_at, updated_at)
			VALUES (7, 'k', 'host', 't', 'dns', '', 'investigating', 'major', '[]', '[]', ?1, ?1)`,
		`INSERT INTO outbox (id, event_id, type, incident_id, payload, created_at)
			VALUES (5, 'ev-5', 'incident.opened', 7, '{"event_id":"ev-5","type":"incident.opened","incident_id":7}', ?1)`,
		`INSERT INTO deliveries (id, outbox_id, channel, status, next_at, updated_at, claimed_by, redeliveries) VALUES (9, 5, 'slack', 'sent', ?1, ?1, 'r1', 2)`,
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
	log, err := db.DeliveryLog(ctx, linkwatch.DeliveryQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].ID != 9 || log[0].EventID != "ev-5" || log[0].IncidentID != 7 || log[0].Status != linkwatch.DeliverySent || log[0].Redeliveries != 2 {
		t.Fatalf("the delivery log after the migration: %+v", log)
	}
	raw, err = sql.Open("sqlite3", uriPath(path))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := withConn(ctx, raw, func(conn *sql.Conn) error {
		var broken int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_foreign_key_check`).Scan(&broken); err != nil || broken != 0 {
			t.Errorf("foreign key check: %d rows, %v", broken, err)
		}
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = ON`); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO deliveries (outbox_id, channel, next_at, updated_at) VALUES (99, 'slack', ?1, ?1)`, at); err == nil {
			t.Error("a delivery of no outbox alert was taken: the foreign key is gone")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateMaintenance(ctx, linkwatch.Maintenance{Title: "w", StartsAt: db.Now().Add(1e12), EndsAt: db.Now().Add(2e12)}); err != nil {
		t.Fatal(err)
	}
}
