package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"
)

// Heartbeat writes a member's row. First it makes sure the member's
// session lock is held on its own connection: while the process lives,
// the lock does; when it dies, PostgreSQL ends the session and the lock
// with it, and Members leaves the member out at once, without waiting
// for its lease.
func (db *DB) Heartbeat(ctx context.Context, m linkwatch.Member) error {
	key := memberLockKey(m.ID)
	held, err := db.hold(ctx, "member:"+m.ID, lockSpaceMember, key)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("postgres: member %s: its lock (%d) is held by another session", m.ID, key)
	}
	return db.update(ctx, func(tx *Tx) error {
		started := m.StartedAt.UTC()
		if m.StartedAt.IsZero() {
			started = tx.now
		}
		_, err := tx.Exec(ctx, `INSERT INTO members (id, region, addr, lock_key, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET region = excluded.region, addr = excluded.addr, lock_key = excluded.lock_key,
			heartbeat_at = excluded.heartbeat_at`, m.ID, m.Region, m.Addr, key, started, tx.now)
		if err != nil {
			return fmt.Errorf("postgres: heartbeat of %s: %w", m.ID, err)
		}
		return nil
	})
}

// Members returns the live members of a region: a heartbeat after since,
// and their session lock still held.
func (db *DB) Members(ctx context.Context, region string, since time.Time) ([]linkwatch.Member, error) {
	return db.members(ctx, `AND m.region = $3`, since, region)
}

// LiveMembers returns the live members of every region.
func (db *DB) LiveMembers(ctx context.Context, since time.Time) ([]linkwatch.Member, error) {
	return db.members(ctx, ``, since)
}

func (db *DB) members(ctx context.Context, filter string, since time.Time, args ...any) ([]linkwatch.Member, error) {
	rows, err := db.pool.Query(ctx, `SELECT m.id, m.region, m.addr, m.started_at, m.heartbeat_at FROM members m
		WHERE m.heartbeat_at > $1 `+filter+` AND EXISTS (SELECT 1 FROM pg_locks l
			WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid::bigint = $2 AND l.objid::bigint = m.lock_key)
		ORDER BY m.id`, append([]any{since.UTC(), int64(lockSpaceMember)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: query members: %w", err)
	}
	var out []linkwatch.Member
	var m linkwatch.Member
	_, err = pgx.ForEachRow(rows, []any{&m.ID, &m.Region, &m.Addr, &m.StartedAt, &m.HeartbeatAt}, func() error {
		m.StartedAt, m.HeartbeatAt = m.StartedAt.UTC(), m.HeartbeatAt.UTC()
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan member: %w", err)
	}
	return out, nil
}

// Leave deletes a member's row and ends its session lock.
func (db *DB) Leave(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM members WHERE id = $1`, id); err != nil {
			return fmt.Errorf("postgres: leave %s: %w", id, err)
		}
		return nil
	})
	db.ReleaseLock("member:" + id)
	return err
}

// memberLockKey is the second half of a member's advisory lock key,
// derived from its id: positive, so pg_locks shows it unchanged in objid.
func memberLockKey(id string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int32(h.Sum32()&0x7fffffff) | 1
}
