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
	type recovery struct {
		target string
		at     time.Time
	}
	list, err := queryAll(ctx, db.reader, "recoveries", `SELECT target, at FROM target_recoveries WHERE at >= ? ORDER BY at`, []any{formatTime(since)},
		func(row rowScanner) (recovery, error) {
			var target, at string
			err := row.Scan(&target, &at)
			return recovery{target, parseTime(at)}, err
		})
	out := map[string][]time.Time{}
	for _, r := range list {
		out[r.target] = append(out[r.target], r.at)
	}
	return out, err
}
