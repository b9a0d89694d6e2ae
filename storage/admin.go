package storage

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"linkwatch"
)

// CreateMaintenance stores a maintenance window and, when it starts
// later, its maintenance.scheduled alert, in one transaction.
func (db *DB) CreateMaintenance(ctx context.Context, m linkwatch.Maintenance) (linkwatch.Maintenance, error) {
	err := db.update(ctx, "create maintenance", func(tx *Tx) error {
		m.CreatedAt = tx.now
		if err := tx.row(ctx, `INSERT INTO maintenance (title, component, starts_at, ends_at, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			m.Title, m.Component, m.StartsAt, m.EndsAt, m.CreatedAt).Scan(&m.ID); err != nil {
			return err
		}
		return db.scheduled(ctx, tx, m)
	})
	return m, err
}

// DeleteMaintenance removes a maintenance window and writes, in the same
// transaction, what that tells the subscribers it was mailed to: cancelled
// before it starts, ended now while in progress (windowDeleted).
func (db *DB) DeleteMaintenance(ctx context.Context, id int64) error {
	return db.update(ctx, "delete maintenance", func(tx *Tx) error {
		if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil { // before any row lock, as Record
			return err
		}
		var m linkwatch.Maintenance
		err := tx.row(ctx, `DELETE FROM maintenance WHERE id = $1 RETURNING id, title, component, starts_at, ends_at, created_at`, id).
			Scan(&m.ID, &m.Title, &m.Component, at(&m.StartsAt), at(&m.EndsAt), at(&m.CreatedAt))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("maintenance %d: %w", id, linkwatch.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return windowDeleted(ctx, tx, m)
	})
}

// ListMaintenance returns the windows that end after since, soonest
// first: the one-off windows, and the occurrences of the recurring ones
// that have started by now and the next of each (RecurringMaintenance.
// Expand), so every reader of windows (the engine's mute step, the
// status page, its Statuspage JSON and feeds) treats both alike.
func (db *DB) ListMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error) {
	out, err := db.oneOffMaintenance(ctx, since)
	if err != nil {
		return nil, err
	}
	recurring, err := db.ListRecurringMaintenance(ctx)
	if err != nil {
		return nil, err
	}
	now := db.Now()
	if now.Before(since) {
		now = since
	}
	for _, r := range recurring {
		out = append(out, r.Expand(since, now)...)
	}
	sortMaintenance(out)
	return out, nil
}

// ActiveMaintenance returns the windows active at t: those that end after
// it and have started by it.
func (db *DB) ActiveMaintenance(ctx context.Context, t time.Time) ([]linkwatch.Maintenance, error) {
	all, err := db.oneOffMaintenance(ctx, t)
	if err != nil {
		return nil, err
	}
	recurring, err := db.ListRecurringMaintenance(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range recurring {
		all = append(all, r.Occurrences(t, t.Add(time.Nanosecond))...)
	}
	out := all[:0]
	for _, m := range all {
		if !t.Before(m.StartsAt) {
			out = append(out, m)
		}
	}
	sortMaintenance(out)
	return out, nil
}

func (db *DB) oneOffMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error) {
	return read(ctx, db, "read maintenance", `SELECT id, title, component, starts_at, ends_at, created_at FROM maintenance
		WHERE ends_at > $1 ORDER BY starts_at, id`, []any{since},
		func(row scanner) (m linkwatch.Maintenance, err error) {
			return m, row.Scan(&m.ID, &m.Title, &m.Component, at(&m.StartsAt), at(&m.EndsAt), at(&m.CreatedAt))
		})
}

// sortMaintenance orders windows soonest first, one-off before recurring
// at one start.
func sortMaintenance(ms []linkwatch.Maintenance) {
	slices.SortStableFunc(ms, func(a, b linkwatch.Maintenance) int {
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), cmp.Compare(a.Recurring, b.Recurring), cmp.Compare(a.ID, b.ID))
	})
}

// CreateRecurringMaintenance stores a recurring maintenance window; its
// schedule and duration are the caller's to check (the admin API does).
// Its first occurrence, when it starts later, is announced with it
// (maintenance.scheduled); each occurrence's start and end are the job's
// (NoticeMaintenance).
func (db *DB) CreateRecurringMaintenance(ctx context.Context, r linkwatch.RecurringMaintenance) (linkwatch.RecurringMaintenance, error) {
	err := db.update(ctx, "create recurring maintenance", func(tx *Tx) error {
		r.CreatedAt = tx.now
		if err := tx.row(ctx, `INSERT INTO recurring_maintenance (title, component, schedule, duration_s, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			r.Title, r.Component, r.Schedule, int64(r.Duration/time.Second), r.CreatedAt).Scan(&r.ID); err != nil {
			return err
		}
		for _, m := range r.Upcoming(tx.now, 1) {
			if err := db.scheduled(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	return r, err
}

// ListRecurringMaintenance returns the recurring windows, oldest first.
func (db *DB) ListRecurringMaintenance(ctx context.Context) ([]linkwatch.RecurringMaintenance, error) {
	return read(ctx, db, "read recurring maintenance", `SELECT id, title, component, schedule, duration_s, created_at FROM recurring_maintenance ORDER BY id`, nil,
		func(row scanner) (r linkwatch.RecurringMaintenance, err error) {
			var seconds int64
			err = row.Scan(&r.ID, &r.Title, &r.Component, &r.Schedule, &seconds, at(&r.CreatedAt))
			r.Duration = time.Duration(seconds) * time.Second
			return r, err
		})
}

// DeleteRecurringMaintenance removes a recurring window, and with it all
// its occurrences, past and future; its occurrence in progress or next
// is deleted as DeleteMaintenance deletes a window (the first occurrence
// is announced when the window is made; the others only start and end).
func (db *DB) DeleteRecurringMaintenance(ctx context.Context, id int64) error {
	return db.update(ctx, "delete recurring maintenance", func(tx *Tx) error {
		if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil { // before any row lock, as Record
			return err
		}
		var r linkwatch.RecurringMaintenance
		var seconds int64
		err := tx.row(ctx, `DELETE FROM recurring_maintenance WHERE id = $1 RETURNING id, title, component, schedule, duration_s, created_at`, id).
			Scan(&r.ID, &r.Title, &r.Component, &r.Schedule, &seconds, at(&r.CreatedAt))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("recurring maintenance %d: %w", id, linkwatch.ErrNotFound)
		}
		if err != nil {
			return err
		}
		r.Duration = time.Duration(seconds) * time.Second
		for _, m := range r.Upcoming(tx.now, 1) {
			if err := windowDeleted(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}
