package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// lockIncident reads an incident inside a write transaction.
func lockIncident(ctx context.Context, tx *Tx, id int64) (linkwatch.Incident, error) {
	inc, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, fmt.Errorf("incident %d: %w", id, linkwatch.ErrNotFound)
	}
	return inc, err
}

// EditPostmortem replaces an incident's postmortem notes.
func (db *DB) EditPostmortem(ctx context.Context, id int64, pm linkwatch.Postmortem) (linkwatch.Incident, error) {
	var out linkwatch.Incident
	err := db.update(ctx, func(tx *Tx) error {
		if _, err := lockIncident(ctx, tx, id); err != nil {
			return err
		}
		pm.UpdatedAt = tx.now
		b, err := jsonString(pm)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET postmortem = ?, updated_at = ? WHERE id = ?`, b, formatTime(tx.now), id); err != nil {
			return fmt.Errorf("sqlite: edit postmortem: %w", err)
		}
		if err := addEvent(ctx, tx, id, linkwatch.EventPostmortem, "postmortem notes edited"); err != nil {
			return err
		}
		out, err = lockIncident(ctx, tx, id)
		return err
	})
	return out, err
}

func addEvent(ctx context.Context, tx *Tx, id int64, kind linkwatch.EventKind, body string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO incident_events (incident_id, at, kind, body) VALUES (?, ?, ?, ?)`,
		id, formatTime(tx.now), string(kind), body); err != nil {
		return fmt.Errorf("sqlite: insert incident event: %w", err)
	}
	return nil
}

// CreateMaintenance stores a maintenance window.
func (db *DB) CreateMaintenance(ctx context.Context, m linkwatch.Maintenance) (linkwatch.Maintenance, error) {
	err := db.update(ctx, func(tx *Tx) error {
		m.CreatedAt = tx.now
		return tx.QueryRowContext(ctx, `INSERT INTO maintenance (title, component, starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			m.Title, m.Component, formatTime(m.StartsAt), formatTime(m.EndsAt), formatTime(m.CreatedAt)).Scan(&m.ID)
	})
	if err != nil {
		return m, fmt.Errorf("sqlite: create maintenance: %w", err)
	}
	return m, nil
}

// DeleteMaintenance removes a maintenance window.
func (db *DB) DeleteMaintenance(ctx context.Context, id int64) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM maintenance WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete maintenance: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("maintenance %d: %w", id, linkwatch.ErrNotFound)
		}
		return nil
	})
}

// ListMaintenance returns the windows that end after since, soonest first.
func (db *DB) ListMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error) {
	return queryAll(ctx, db.reader, "maintenance", `SELECT id, title, component, starts_at, ends_at, created_at FROM maintenance
		WHERE ends_at > ? ORDER BY starts_at, id`, []any{formatTime(since)},
		func(row rowScanner) (linkwatch.Maintenance, error) {
			var m linkwatch.Maintenance
			var st, e, c string
			err := row.Scan(&m.ID, &m.Title, &m.Component, &st, &e, &c)
			m.StartsAt, m.EndsAt, m.CreatedAt = parseTime(st), parseTime(e), parseTime(c)
			return m, err
		})
}

// ActiveMaintenance returns the windows active at t.
func (db *DB) ActiveMaintenance(ctx context.Context, t time.Time) ([]linkwatch.Maintenance, error) {
	all, err := db.ListMaintenance(ctx, t)
	if err != nil {
		return nil, err
	}
	return storage.ActiveAt(all, t), nil
}
