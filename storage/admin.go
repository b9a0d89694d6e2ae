package storage

import (
	"context"
	"fmt"
	"time"

	"linkwatch"
)

// CreateMaintenance stores a maintenance window.
func (db *DB) CreateMaintenance(ctx context.Context, m linkwatch.Maintenance) (linkwatch.Maintenance, error) {
	err := db.update(ctx, "create maintenance", func(tx *Tx) error {
		m.CreatedAt = tx.now
		return tx.row(ctx, `INSERT INTO maintenance (title, component, starts_at, ends_at, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			m.Title, m.Component, m.StartsAt, m.EndsAt, m.CreatedAt).Scan(&m.ID)
	})
	return m, err
}

// DeleteMaintenance removes a maintenance window.
func (db *DB) DeleteMaintenance(ctx context.Context, id int64) error {
	return db.update(ctx, "delete maintenance", func(tx *Tx) error {
		if tx.Exec(ctx, `DELETE FROM maintenance WHERE id = $1`, id) == 0 && tx.err == nil {
			return fmt.Errorf("maintenance %d: %w", id, linkwatch.ErrNotFound)
		}
		return nil
	})
}

// ListMaintenance returns the windows that end after since, soonest first.
func (db *DB) ListMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error) {
	return read(ctx, db, "read maintenance", `SELECT id, title, component, starts_at, ends_at, created_at FROM maintenance
		WHERE ends_at > $1 ORDER BY starts_at, id`, []any{since},
		func(row scanner) (m linkwatch.Maintenance, err error) {
			return m, row.Scan(&m.ID, &m.Title, &m.Component, at(&m.StartsAt), at(&m.EndsAt), at(&m.CreatedAt))
		})
}

// ActiveMaintenance returns the windows active at t: those that end after
// it and have started by it.
func (db *DB) ActiveMaintenance(ctx context.Context, t time.Time) ([]linkwatch.Maintenance, error) {
	all, err := db.ListMaintenance(ctx, t)
	out := all[:0]
	for _, m := range all {
		if !t.Before(m.StartsAt) {
			out = append(out, m)
		}
	}
	return out, err
}
