package sqlite

import (
	"context"
	"fmt"
	"time"
)

// RecordRecovery stores that target recovered at at, and forgets every
// recovery before forgetBefore (older than any flap window).
func (db *DB) RecordRecovery(ctx context.Context, target string, at, forgetBefore time.Time) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO target_recoveries (target, at) VALUES (?, ?)`, target, formatTime(at)); err != nil {
			return fmt.Errorf("sqlite: record recovery of %s: %w", target, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM target_recoveries WHERE at < ?`, formatTime(forgetBefore)); err != nil {
			return fmt.Errorf("sqlite: forget old recoveries: %w", err)
		}
		return nil
	})
}

// Recoveries returns each target's recoveries at or after since, oldest
// first.
func (db *DB) Recoveries(ctx context.Context, since time.Time) (map[string][]time.Time, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT target, at FROM target_recoveries WHERE at >= ? ORDER BY at`, formatTime(since))
	if err != nil {
		return nil, fmt.Errorf("sqlite: query recoveries: %w", err)
	}
	defer rows.Close()
	out := map[string][]time.Time{}
	for rows.Next() {
		var target, at string
		if err := rows.Scan(&target, &at); err != nil {
			return nil, fmt.Errorf("sqlite: scan recovery: %w", err)
		}
		out[target] = append(out[target], parseTime(at))
	}
	return out, rows.Err()
}
