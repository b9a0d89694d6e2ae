package sqlite

import (
	"context"
	"fmt"
	"time"

	"linkwatch"
)

// Heartbeat writes a member's row. SQLite has one process: its one member
// owns everything, and the row is there for the same membership as on
// PostgreSQL.
func (db *DB) Heartbeat(ctx context.Context, m linkwatch.Member) error {
	return db.update(ctx, func(tx *Tx) error {
		started := m.StartedAt
		if started.IsZero() {
			started = tx.now
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO members (id, region, addr, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET region = excluded.region, addr = excluded.addr, heartbeat_at = excluded.heartbeat_at`,
			m.ID, m.Region, m.Addr, formatTime(started), formatTime(tx.now))
		if err != nil {
			return fmt.Errorf("sqlite: heartbeat of %s: %w", m.ID, err)
		}
		return nil
	})
}

// Members returns the members of a region with a heartbeat after since.
func (db *DB) Members(ctx context.Context, region string, since time.Time) ([]linkwatch.Member, error) {
	return db.members(ctx, ` AND region = ?`, since, region)
}

// LiveMembers returns the members of every region with a heartbeat after since.
func (db *DB) LiveMembers(ctx context.Context, since time.Time) ([]linkwatch.Member, error) {
	return db.members(ctx, ``, since)
}

func (db *DB) members(ctx context.Context, filter string, since time.Time, args ...any) ([]linkwatch.Member, error) {
	return queryAll(ctx, db.reader, "members", `SELECT id, region, addr, started_at, heartbeat_at FROM members
		WHERE heartbeat_at > ?`+filter+` ORDER BY id`, append([]any{formatTime(since)}, args...),
		func(row rowScanner) (linkwatch.Member, error) {
			var m linkwatch.Member
			var started, beat string
			err := row.Scan(&m.ID, &m.Region, &m.Addr, &started, &beat)
			m.StartedAt, m.HeartbeatAt = parseTime(started), parseTime(beat)
			return m, err
		})
}

// Leave deletes a member's row.
func (db *DB) Leave(ctx context.Context, id string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: leave %s: %w", id, err)
		}
		return nil
	})
}

// HoldLock reports that this process holds the named lock: with SQLite
// there is one process, and it runs every job.
func (db *DB) HoldLock(context.Context, string) (bool, error) { return true, nil }

// ReleaseLock has nothing to release.
func (db *DB) ReleaseLock(string) {}
