package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage"
)

// lockIncident reads an incident inside a write transaction and locks its
// row until the transaction ends: two replicas' admin changes to one
// incident take turns, as they did behind SQLite's single writer.
func lockIncident(ctx context.Context, tx *Tx, id int64) (linkwatch.Incident, error) {
	inc, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return inc, fmt.Errorf("incident %d: %w", id, linkwatch.ErrNotFound)
	}
	if err != nil {
		return inc, fmt.Errorf("postgres: incident %d: %w", id, err)
	}
	return inc, nil
}

// EditPostmortem replaces an incident's postmortem notes.
func (db *DB) EditPostmortem(ctx context.Context, id int64, pm linkwatch.Postmortem) (linkwatch.Incident, error) {
	var out linkwatch.Incident
	err := db.update(ctx, func(tx *Tx) error {
		if _, err := lockIncident(ctx, tx, id); err != nil {
			return err
		}
		pm.UpdatedAt = tx.now
		b, err := json.Marshal(pm)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE incidents SET postmortem = $1, updated_at = $2 WHERE id = $3`, string(b), tx.now, id); err != nil {
			return fmt.Errorf("postgres: edit postmortem: %w", err)
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
	if _, err := tx.Exec(ctx, `INSERT INTO incident_events (incident_id, at, kind, body) VALUES ($1, $2, $3, $4)`,
		id, tx.now, string(kind), body); err != nil {
		return fmt.Errorf("postgres: insert incident event: %w", err)
	}
	return nil
}

// CreateMaintenance stores a maintenance window.
func (db *DB) CreateMaintenance(ctx context.Context, m linkwatch.Maintenance) (linkwatch.Maintenance, error) {
	err := db.update(ctx, func(tx *Tx) error {
		m.CreatedAt = tx.now
		return tx.QueryRow(ctx, `INSERT INTO maintenance (title, component, starts_at, ends_at, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			m.Title, m.Component, m.StartsAt.UTC(), m.EndsAt.UTC(), m.CreatedAt).Scan(&m.ID)
	})
	if err != nil {
		return m, fmt.Errorf("postgres: create maintenance: %w", err)
	}
	return m, nil
}

// DeleteMaintenance removes a maintenance window.
func (db *DB) DeleteMaintenance(ctx context.Context, id int64) error {
	return db.update(ctx, func(tx *Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM maintenance WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("postgres: delete maintenance: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("maintenance %d: %w", id, linkwatch.ErrNotFound)
		}
		return nil
	})
}

// ListMaintenance returns the windows that end after since, soonest first.
func (db *DB) ListMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, title, component, starts_at, ends_at, created_at FROM maintenance
		WHERE ends_at > $1 ORDER BY starts_at, id`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("postgres: query maintenance: %w", err)
	}
	var out []linkwatch.Maintenance
	var m linkwatch.Maintenance
	var s, e, c time.Time
	_, err = pgx.ForEachRow(rows, []any{&m.ID, &m.Title, &m.Component, &s, &e, &c}, func() error {
		m.StartsAt, m.EndsAt, m.CreatedAt = s.UTC(), e.UTC(), c.UTC()
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan maintenance: %w", err)
	}
	return out, nil
}

// ActiveMaintenance returns the windows active at t.
func (db *DB) ActiveMaintenance(ctx context.Context, t time.Time) ([]linkwatch.Maintenance, error) {
	all, err := db.ListMaintenance(ctx, t)
	if err != nil {
		return nil, err
	}
	return storage.ActiveAt(all, t), nil
}
