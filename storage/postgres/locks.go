package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage"
)

// A session lock is held by a dedicated connection, outside the pool:
// PostgreSQL releases it when the connection closes, so a process killed
// with -9 gives its locks up at once.

// HoldLock takes the named lock if it is free, or checks that this
// process still holds it.
func (d *dialect) HoldLock(ctx context.Context, name string) (bool, error) {
	return d.hold(ctx, name, lockSpaceNamed, hash(name))
}

// MemberLock holds the member's lock, keyed by a hash of its id: while the
// process lives, the lock does (LiveMember).
func (d *dialect) MemberLock(ctx context.Context, id string) (int64, error) {
	key := hash(id) | 1
	held, err := d.hold(ctx, storage.MemberLockName(id), lockSpaceMember, key)
	if err == nil && !held {
		err = fmt.Errorf("its lock (%d) is held by another session", key)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: member %s: %w", id, err)
	}
	return int64(key), nil
}

// hash is a positive int4 of s, so pg_locks shows it unchanged in objid.
func hash(s string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int32(h.Sum32() & 0x7fffffff)
}

// ReleaseLock gives the named lock up (closing its connection).
func (d *dialect) ReleaseLock(name string) {
	d.sessMu.Lock()
	conn := d.sessions[name]
	delete(d.sessions, name)
	d.sessMu.Unlock()
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}
}

// hold is HoldLock for the advisory key (k1, k2).
func (d *dialect) hold(ctx context.Context, name string, k1, k2 int32) (bool, error) {
	d.sessMu.Lock()
	defer d.sessMu.Unlock()
	if d.sessions == nil {
		d.sessions = map[string]*pgx.Conn{}
	}
	if conn := d.sessions[name]; conn != nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conn.Ping(pctx)
		cancel()
		if err == nil {
			return true, nil
		}
		// The connection is gone, and the lock with it: take it again
		// if nobody took it meanwhile.
		_ = conn.Close(context.WithoutCancel(ctx))
		delete(d.sessions, name)
	}
	conn, err := pgx.ConnectConfig(ctx, d.config.Copy())
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", d.host, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, k1, k2).Scan(&got); err != nil || !got {
		_ = conn.Close(context.WithoutCancel(ctx))
		return false, err
	}
	d.sessions[name] = conn
	return true, nil
}

// Close ends every held lock.
func (d *dialect) Close() error {
	d.sessMu.Lock()
	defer d.sessMu.Unlock()
	for name, conn := range d.sessions {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = conn.Close(ctx)
		cancel()
		delete(d.sessions, name)
	}
	return nil
}
