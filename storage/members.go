package storage

import (
	"context"
	"fmt"
	"time"

	"linkwatch"
)

// Heartbeat writes a member's row, its heartbeat at the database's time.
// First it makes sure the member's
// session lock is held (Dialect.MemberLock): while the process lives, the
// lock does; when it dies, the lock goes with its connection, and Members
// leaves the member out at once, without waiting for its lease.
func (db *DB) Heartbeat(ctx context.Context, m linkwatch.Member) error {
	key, err := db.d.MemberLock(ctx, m.ID)
	if err != nil {
		return err
	}
	return db.update(ctx, "heartbeat of "+m.ID, func(tx *Tx) error {
		started := m.StartedAt
		if started.IsZero() {
			started = tx.now
		}
		tx.Exec(ctx, `INSERT INTO members (id, region, addr, lock_key, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET region = excluded.region, addr = excluded.addr, lock_key = excluded.lock_key,
			heartbeat_at = excluded.heartbeat_at`, m.ID, m.Region, m.Addr, key, started, tx.now)
		return nil
	})
}

// Members returns the live members of a region: a heartbeat within the
// last within of the database's time, and nothing proving their process
// dead (Dialect.LiveMember).
func (db *DB) Members(ctx context.Context, region string, within time.Duration) ([]linkwatch.Member, error) {
	return db.members(ctx, region, false, within)
}

// LiveMembers returns the live members of every region.
func (db *DB) LiveMembers(ctx context.Context, within time.Duration) ([]linkwatch.Member, error) {
	return db.members(ctx, "", true, within)
}

// members compares the heartbeats with the database's time, not with this
// process's: a replica whose clock is off does not see the others' leases
// end early or late. (Two statements: the second runs within a round trip
// of the time read, which leases of seconds do not notice.)
func (db *DB) members(ctx context.Context, region string, everywhere bool, within time.Duration) ([]linkwatch.Member, error) {
	now, err := db.now(ctx, db.read)
	if err != nil {
		return nil, db.wrap("read members", err)
	}
	return read(ctx, db, "read members", `SELECT m.id, m.region, m.addr, m.started_at, m.heartbeat_at FROM members m
		WHERE m.heartbeat_at > $1 AND ($2 OR m.region = $3) AND `+db.d.LiveMember()+` ORDER BY m.id`, []any{now.Add(-within), everywhere, region},
		func(row scanner) (m linkwatch.Member, err error) {
			return m, row.Scan(&m.ID, &m.Region, &m.Addr, at(&m.StartedAt), at(&m.HeartbeatAt))
		})
}

// Leave deletes a member's row and ends its session lock.
func (db *DB) Leave(ctx context.Context, id string) error {
	err := db.update(ctx, "leave "+id, func(tx *Tx) error {
		tx.Exec(ctx, `DELETE FROM members WHERE id = $1`, id)
		return nil
	})
	db.d.ReleaseLock(MemberLockName(id))
	return err
}

// MemberLockName is the name under which a dialect holds a member's lock.
func MemberLockName(id string) string { return "member:" + id }

// HoldLock takes the named session lock if it is free, or checks that this
// process still holds it, and reports whether it does. It is how replicas
// elect one to run the periodic jobs: every one calls it every few
// seconds, and another takes over when the holder's connection ends.
func (db *DB) HoldLock(ctx context.Context, name string) (bool, error) {
	held, err := db.d.HoldLock(ctx, name)
	if err != nil {
		err = fmt.Errorf("%s: lock %s: %w", db.d.Name(), name, err)
	}
	return held, err
}

// ReleaseLock gives the named lock up.
func (db *DB) ReleaseLock(name string) { db.d.ReleaseLock(name) }
