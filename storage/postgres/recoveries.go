package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordRecovery stores that target recovered at at, and forgets every
// recovery before forgetBefore (older than any flap window).
func (db *DB) RecordRecovery(ctx context.Context, target string, at, forgetBefore time.Time) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO target_recoveries (target, at) VALUES ($1, $2)`, target, at.UTC()); err != nil {
			return fmt.Errorf("postgres: record recovery of %s: %w", target, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM target_recoveries WHERE at < $1`, forgetBefore.UTC()); err != nil {
			return fmt.Errorf("postgres: forget old recoveries: %w", err)
		}
		return nil
	})
}

// Recoveries returns each target's recoveries at or after since, oldest
// first.
func (db *DB) Recoveries(ctx context.Context, since time.Time) (map[string][]time.Time, error) {
	rows, err := db.pool.Query(ctx, `SELECT target, at FROM target_recoveries WHERE at >= $1 ORDER BY at`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("postgres: query recoveries: %w", err)
	}
	out := map[string][]time.Time{}
	var target string
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&target, &at}, func() error { out[target] = append(out[target], at.UTC()); return nil }); err != nil {
		return nil, fmt.Errorf("postgres: scan recovery: %w", err)
	}
	return out, nil
}
