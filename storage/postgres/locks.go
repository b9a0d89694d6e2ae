package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// session is a dedicated connection, outside the pool, that holds one
// session advisory lock: PostgreSQL releases it when the connection
// closes, so a process killed with -9 gives its locks up at once.
type session struct {
	conn *pgx.Conn
}

// HoldLock takes the named lock if it is free, or checks that this
// process still holds it, and reports whether it does. It is how the
// replicas elect one to run the periodic jobs: the holder calls it every
// few seconds, the others too, to take over when the holder's connection
// ends.
func (db *DB) HoldLock(ctx context.Context, name string) (bool, error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return db.hold(ctx, name, lockSpaceNamed, int32(h.Sum32()&0x7fffffff))
}

// ReleaseLock gives the named lock up (closing its connection).
func (db *DB) ReleaseLock(name string) {
	db.sessMu.Lock()
	s := db.sessions[name]
	delete(db.sessions, name)
	db.sessMu.Unlock()
	if s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.conn.Close(ctx)
	}
}

// hold is HoldLock for the advisory key (k1, k2).
func (db *DB) hold(ctx context.Context, name string, k1, k2 int32) (bool, error) {
	db.sessMu.Lock()
	defer db.sessMu.Unlock()
	if db.sessions == nil {
		db.sessions = map[string]*session{}
	}
	if s := db.sessions[name]; s != nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.conn.Ping(pctx)
		cancel()
		if err == nil {
			return true, nil
		}
		// The connection is gone, and the lock with it: take it again
		// if nobody took it meanwhile.
		_ = s.conn.Close(context.WithoutCancel(ctx))
		delete(db.sessions, name)
	}
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("postgres: connect to %s for lock %s: %w", db.host, name, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, k1, k2).Scan(&got); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return false, fmt.Errorf("postgres: lock %s: %w", name, err)
	}
	if !got {
		_ = conn.Close(context.WithoutCancel(ctx))
		return false, nil
	}
	db.sessions[name] = &session{conn: conn}
	return true, nil
}

// closeSessions ends every held lock.
func (db *DB) closeSessions() {
	db.sessMu.Lock()
	names := make([]string, 0, len(db.sessions))
	for n := range db.sessions {
		names = append(names, n)
	}
	db.sessMu.Unlock()
	for _, n := range names {
		db.ReleaseLock(n)
	}
}
