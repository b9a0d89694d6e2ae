package storage

import (
	"context"

	"linkwatch"
)

// scheduled writes window m's maintenance.scheduled alert when m starts
// after tx's time (one already started is announced as started, by
// NoticeMaintenance).
func (db *DB) scheduled(ctx context.Context, tx *Tx, m linkwatch.Maintenance) error {
	if !m.StartsAt.After(tx.now) {
		return nil
	}
	if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
		return err
	}
	insertMaintenanceAlert(ctx, tx, linkwatch.MaintenanceAlert(linkwatch.AlertMaintenanceScheduled, m, tx.now))
	return nil
}

// windowDeleted writes what deleting window m tells the subscribers it
// was mailed to, once (the outbox's unique event id): one announced as
// scheduled that has not started is cancelled (maintenance.cancelled);
// one mailed as started that has not ended ends now (maintenance.ended,
// ending at the deletion), not at the end it had, when the status page
// shows it no more. A window never mailed is no news. Which subscribers
// get a cancellation is the dispatcher's to decide, at send time: those
// the announcement reached (AlertSent). The caller holds the outbox lock.
func windowDeleted(ctx context.Context, tx *Tx, m linkwatch.Maintenance) error {
	t, mailed := linkwatch.AlertMaintenanceCancelled, linkwatch.AlertMaintenanceScheduled
	if !m.StartsAt.After(tx.now) {
		if !m.EndsAt.After(tx.now) {
			return nil
		}
		t, mailed, m.EndsAt = linkwatch.AlertMaintenanceEnded, linkwatch.AlertMaintenanceStarted, tx.now
	}
	var was bool
	if err := tx.row(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE event_id = $1)`, linkwatch.MaintenanceEventID(mailed, m)).Scan(&was); err != nil || !was {
		return err
	}
	insertMaintenanceAlert(ctx, tx, linkwatch.MaintenanceAlert(t, m, tx.now))
	return nil
}

// insertMaintenanceAlert writes a maintenance alert to the outbox once: a
// second of the same event id (window or occurrence, and type) is
// nothing, so replicas and restarts that notice one change alike write
// one alert. The caller holds the outbox lock.
func insertMaintenanceAlert(ctx context.Context, tx *Tx, a linkwatch.Alert) {
	tx.Exec(ctx, `INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES ($1, $2, NULL, $3, $4)
		ON CONFLICT (event_id) DO NOTHING`, a.EventID, string(a.Type), JSON{a}, a.CreatedAt)
}

// NoticeMaintenance writes, by the database's clock and in one
// transaction, the maintenance.started alert of each window (one-off, or
// an occurrence of a recurring one) in progress, and the
// maintenance.ended alert of each window whose start was alerted and
// which has ended since. Each is written once, whichever replica runs it
// and however often (the outbox's unique event id), so after a restart a
// window in progress is alerted as started once, and one that ended is
// alerted as ended once, however late. A window that began and ended
// while no replica ran is not alerted: it is no news when it would reach
// anyone. The holder of the jobs lock runs it.
func (db *DB) NoticeMaintenance(ctx context.Context) error {
	return db.update(ctx, "notice maintenance", func(tx *Tx) error {
		if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
			return err
		}
		active, err := db.ActiveMaintenance(ctx, tx.now)
		if err != nil {
			return err
		}
		for _, m := range active {
			insertMaintenanceAlert(ctx, tx, linkwatch.MaintenanceAlert(linkwatch.AlertMaintenanceStarted, m, tx.now))
		}
		started, err := all(ctx, tx.runner, `SELECT s.payload FROM outbox s WHERE s.type = $1 AND s.incident_id IS NULL
			AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.event_id = CAST($2 AS TEXT) || substr(s.event_id, CAST($3 AS INTEGER)))`,
			[]any{string(linkwatch.AlertMaintenanceStarted), string(linkwatch.AlertMaintenanceEnded), len(linkwatch.AlertMaintenanceStarted) + 1},
			func(row scanner) (a linkwatch.Alert, err error) { return a, row.Scan(jsonOf(&a)) })
		for _, a := range started {
			if m := a.Maintenance; m != nil && !tx.now.Before(m.EndsAt) {
				insertMaintenanceAlert(ctx, tx, linkwatch.MaintenanceAlert(linkwatch.AlertMaintenanceEnded, *m, tx.now))
			}
		}
		return err
	})
}
