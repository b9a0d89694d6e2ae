package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"linkwatch/storage"
)

// dialect is what storage.DB needs to know of PostgreSQL: storage writes
// its SQL, so queries and arguments pass as they are; what differs is
// COPY, and the locks that make replicas take turns where SQLite's one
// writer serialises everything.
type dialect struct {
	config *pgx.ConnConfig // for the connections that hold session locks
	host   string

	sessMu   sync.Mutex
	sessions map[string]*pgx.Conn // held session locks, by name
}

func (*dialect) Name() string               { return "postgres" }
func (*dialect) Rebind(query string) string { return query }
func (*dialect) Arg(v any) any              { return v }

func (*dialect) Day(col string) string {
	return "date_trunc('day', " + col + " AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
}

// PruneResults finds the rows by their physical address: results has no
// key, and a TID scan is what a batch delete needs.
func (*dialect) PruneResults() string {
	return `DELETE FROM results WHERE ctid = ANY (ARRAY(SELECT ctid FROM results WHERE started_at < $1 LIMIT 5000))`
}

// DropRollups drops table's partitions of the days before cutoff and makes
// those of today and the next three days (migration 0016 holds the
// functions): the retention job runs every hour, so a day's partition is
// there days before its first row.
func (*dialect) DropRollups(ctx context.Context, tx *storage.Tx, table string, cutoff, now int64) int64 {
	var n int64
	tx.Native(ctx, `SELECT linkwatch_rollup_drop($1, $2)`, [][]any{{table, cutoff}}, func(scan func(dest ...any) error) error { return scan(&n) })
	tx.Exec(ctx, `SELECT linkwatch_rollup_day($1, ($2::bigint / 86400 + i) * 86400) FROM generate_series(0, 3) AS i`, table, now)
	return n
}

// Now: the transaction's start, and the instant of the statement (which
// the offset of storage.DB.Now is measured against).
func (*dialect) Now() string { return `SELECT now(), clock_timestamp()` }

// LiveMember: the member's session lock (MemberLock) is held, or its
// absence proves nothing. A lock is lost with the process, and with the
// server: after a restart or a failover every member's is gone until its
// next heartbeat takes it again, and a replica that counted them dead
// would take every host and check it beside its owner. So a missing lock
// counts only when some member's lock is held by a session that began
// before the member's last heartbeat: the server has lived since, and the
// lock the member held to write that heartbeat would still be held if its
// process were. (A session of another role may hide when it began; then
// nothing is proven, and the lease alone decides.)
func (*dialect) LiveMember() string {
	return fmt.Sprintf(`(EXISTS (SELECT 1 FROM pg_locks l WHERE %[1]s AND l.objid::bigint = m.lock_key)
		OR NOT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE %[1]s AND a.backend_start < m.heartbeat_at))`,
		fmt.Sprintf(`l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid::bigint = %d`, lockSpaceMember))
}

// Insert writes a plain batch with COPY, and one with a conflict clause or
// RETURNING as one INSERT from unnest: an array per column.
func (*dialect) Insert(ctx context.Context, tx *storage.Tx, ins storage.Insert) {
	if len(ins.Rows) == 0 {
		return
	}
	if ins.Then == "" && ins.Scan == nil {
		tx.Raw(func(dc any) error {
			_, err := dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{ins.Table}, ins.Cols, pgx.CopyFromRows(ins.Rows))
			return err
		})
		return
	}
	args := make([]any, len(ins.Cols))
	arrays := make([]string, len(ins.Cols))
	for j := range ins.Cols {
		switch ins.Rows[0][j].(type) {
		case int64:
			args[j], arrays[j] = column[int64](ins.Rows, j), fmt.Sprintf("$%d::bigint[]", j+1)
		case time.Time:
			args[j], arrays[j] = column[time.Time](ins.Rows, j), fmt.Sprintf("$%d::timestamptz[]", j+1)
		default:
			args[j], arrays[j] = column[string](ins.Rows, j), fmt.Sprintf("$%d::text[]", j+1)
		}
	}
	tx.Native(ctx, `INSERT INTO `+ins.Table+` (`+strings.Join(ins.Cols, ", ")+`) SELECT * FROM unnest(`+strings.Join(arrays, ", ")+`) `+ins.Then, [][]any{args}, ins.Scan)
}

// column is the j-th values of rows.
func column[T any](rows [][]any, j int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r[j].(T)
	}
	return out
}

// Advisory lock keys (the two int4 halves of pg_advisory_xact_lock): one
// namespace for linkwatch, one key per thing serialised across replicas
// (storage.TxLock).
const (
	lockSpace   int32 = 0x6c77 // "lw"
	lockMigrate int32 = 1      // session lock: schema migrations

	lockSpaceMember = 0x6c6d // "lm": session locks of members, keyed by memberLockKey
	lockSpaceNamed  = 0x6c6e // "ln": named session locks (HoldLock), keyed by a hash of the name
)

// LockTx takes a transaction-level advisory lock, released at commit or
// rollback.
func (*dialect) LockTx(ctx context.Context, tx *storage.Tx, lock storage.TxLock) error {
	tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, int32(lock))
	return tx.Err()
}

// IsFault tells the database's faults (unreachable, out of disk, read-only
// after a failover, shut down) from the caller's own errors (a missing
// row, a constraint the change broke).
func (*dialect) IsFault(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: disk full, out of memory, too many connections
			"57", // operator intervention: shutdown, cancelled by admin
			"58", // system error: I/O
			"XX": // internal error, data corrupted
			return true
		}
		return pe.Code == "25006" // read-only transaction: a standby after failover
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone)
}

func (*dialect) IsUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
