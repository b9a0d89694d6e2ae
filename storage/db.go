package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch"
)

// DB is the one implementation of Store: every operation is written once,
// in PostgreSQL's SQL over database/sql, and run on SQLite or PostgreSQL
// through a Dialect that holds what truly differs (storage/sqlite and
// storage/postgres open it).
type DB struct {
	d     Dialect
	write *sql.DB // SQLite: its one writer connection
	read  runner  // SQLite: a read-only pool; PostgreSQL: the pool write uses too

	// saveMu makes one process's result batches plan and commit one at a
	// time, so the sampler sees them in the order they are written. It
	// guards what is kept in memory of the rows batches wrote, merged only
	// once a batch commits, so a rollback never leaves it ahead of the
	// database.
	saveMu  sync.Mutex
	targets map[string]int64 // target key -> id
	sampler Sampler

	// Local is this process's clock (time.Now). SQLite's clock is this
	// process's; PostgreSQL's is measured against it (Now).
	Local func() time.Time
	// clock, when set (SetClock), replaces the database's clock.
	clock func() time.Time
	// offset is the database's clock minus Local, as last measured, in
	// nanoseconds (Now).
	offset atomic.Int64

	faultMu sync.Mutex
	fault   WriteFault // the last write the database refused
}

// Dialect is what differs between the databases DB runs on: how a query
// and its arguments are spelled, batch inserts, locks across processes,
// and which errors are the database's faults.
type Dialect interface {
	// Name names the database in errors ("sqlite", "postgres").
	Name() string
	// Rebind turns a query written here, in PostgreSQL's SQL, into the
	// database's own; DB calls it once per query text.
	Rebind(query string) string
	// Arg is a Go argument as the database stores it: a time, a list
	// (the parameter of "= ANY($n)").
	Arg(v any) any
	// Day is the SQL for the start of the UTC day of the time column col.
	Day(col string) string
	// PruneResults is the SQL deleting up to 5,000 raw results that
	// started before $1 (Unix milliseconds).
	PruneResults() string
	// DropRollups removes, in tx, the rollups of table (rollup_minute,
	// rollup_minute_packed or rollup_hour) of the UTC days before cutoff (Unix seconds, the start
	// of a day) where the database keeps them a day to a table (a
	// partition dropped whole, not deleted row by row), makes the days'
	// from now's on ahead, and returns about how many rows went; 0 where
	// it does not. Prune's batch delete removes what is left.
	DropRollups(ctx context.Context, tx *Tx, table string, cutoff, now int64) int64
	// Now is the SQL of a row of two times of the database's clock: the
	// start of the transaction it runs in, and the instant it runs; ""
	// where the database's clock is this process's (SQLite, in process).
	Now() string
	// LiveMember is the SQL condition, on the members row m, that nothing
	// proves the member's process dead: its session lock is held, or the
	// lock may have been lost to the database (a restart, a failover)
	// rather than to the process.
	LiveMember() string
	// Insert adds a batch of rows in tx, in as few statements as the
	// database allows (COPY, a multi-row INSERT).
	Insert(ctx context.Context, tx *Tx, ins Insert)
	// LockTx makes the transactions taking lock take turns, across every
	// process sharing the database, until tx ends.
	LockTx(ctx context.Context, tx *Tx, lock TxLock) error
	// MemberLock holds the member id's session lock for as long as the
	// process lives, and returns its key (members.lock_key).
	MemberLock(ctx context.Context, id string) (int64, error)
	// HoldLock takes or keeps the named session lock (see Store).
	HoldLock(ctx context.Context, name string) (bool, error)
	// ReleaseLock gives up a lock MemberLock or HoldLock holds.
	ReleaseLock(name string)
	// IsFault says whether err is the database refusing a write (a full
	// disk, a read-only file or server, a lock held too long, a lost
	// connection), not a caller's own error.
	IsFault(err error) bool
	// IsUnique says whether err is a unique constraint refusing a row.
	IsUnique(err error) bool
	// Close releases the locks held.
	Close() error
}

// TxLock names what LockTx serialises.
type TxLock int32

const (
	// LockOutbox: outbox and alert group writes, the fan-out, and a
	// channel's resume point. Outbox ids then commit in id order, so the
	// fan-out's "after the last id this channel saw" never passes over an
	// alert a slower transaction commits later.
	LockOutbox TxLock = 2
	// LockRollup: the hour rollup job.
	LockRollup TxLock = 3
)

// NewDB returns the DB that writes through write and reads through read
// (the same pool, or not) of a database in dialect d whose schema is
// migrated.
func NewDB(d Dialect, write, read *sql.DB) *DB {
	return &DB{d: d, write: write, read: runner{d, read}, targets: map[string]int64{}, Local: time.Now}
}

// SetClock replaces the database's clock: stored times, leases and claims
// are reckoned by now, and Now returns it. Tests move time with it; call
// it before the database is used. Without it, the database's own clock is
// read in each write transaction (Dialect.Now): replicas whose clocks
// disagree agree on the database's.
func (db *DB) SetClock(now func() time.Time) { db.clock = now }

// Now returns the database's time as this process reckons it between
// transactions: its own clock plus the offset to the database's measured
// at the last transaction. Everything a replica stamps or compares with
// what other replicas wrote (results, incidents, verdicts, retries, the
// checks' intervals) goes by it, so a process whose clock is minutes off
// still agrees with the others. Until the database first answers, it is
// this process's clock.
func (db *DB) Now() time.Time {
	if db.clock != nil {
		return db.clock()
	}
	return db.Local().Add(time.Duration(db.offset.Load()))
}

// now reads the database's time on r: the start of r's transaction, or,
// on the pool, the instant of the read. With PostgreSQL it measures the
// offset Now adds to this process's clock, from the database's clock
// at the instant of the statement against the midpoint of the round
// trip; a new measurement within its own uncertainty (half the round
// trip, plus a millisecond) is noise, and leaves the offset as it is, so
// Now does not wobble with the network.
func (db *DB) now(ctx context.Context, r runner) (time.Time, error) {
	if db.clock != nil {
		return db.clock().UTC(), nil
	}
	q := db.d.Now()
	if q == "" {
		return db.Local().UTC(), nil
	}
	var start, instant time.Time
	before := db.Local()
	if err := r.h.QueryRowContext(ctx, q).Scan(at(&start), at(&instant)); err != nil {
		return time.Time{}, err
	}
	rtt := db.Local().Sub(before)
	offset := instant.Sub(before.Add(rtt / 2))
	if d := offset - time.Duration(db.offset.Load()); d > rtt/2+time.Millisecond || d < -rtt/2-time.Millisecond {
		db.offset.Store(int64(offset))
	}
	return start, nil
}

// Close closes the pools and releases the locks held.
func (db *DB) Close() error {
	err := db.d.Close()
	if db.read.h != db.write {
		err = errors.Join(err, db.read.h.(*sql.DB).Close())
	}
	return errors.Join(err, db.write.Close())
}

// LastWriteFault returns the last write the database refused (zero if none
// since Open). Readiness uses it: any write, not only a probe, shows that
// writes cannot commit.
func (db *DB) LastWriteFault() WriteFault {
	db.faultMu.Lock()
	defer db.faultMu.Unlock()
	return db.fault
}

// noteWrite records err, if it is the database's fault, and returns it.
func (db *DB) noteWrite(err error) error {
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && db.d.IsFault(err) {
		db.faultMu.Lock()
		db.fault = WriteFault{At: time.Now(), Err: err, Count: db.fault.Count + 1} // readiness compares it with time.Now
		db.faultMu.Unlock()
	}
	return err
}

// Ping reports whether the database answers a read.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.wrap("ping", db.read.row(ctx, `SELECT 1`).Scan(&one))
}

// WriteProbe commits a one-row write: it fails when nothing can be
// written (a read-only file or server, a lock held past the busy timeout,
// a full disk, a server gone).
func (db *DB) WriteProbe(ctx context.Context) error {
	return db.update(ctx, "write probe", func(tx *Tx) error {
		tx.Exec(ctx, `INSERT INTO write_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at`, tx.now)
		return nil
	})
}

// Tx is a write transaction. It carries the time it started by the
// database's clock, so every row written in it agrees on "now", and so do
// replicas whatever their own clocks say; and its first error: Exec does
// nothing once a statement failed, and the transaction rolls back.
type Tx struct {
	runner
	conn *sql.Conn
	now  time.Time
	err  error
}

// Exec runs a statement, unless one failed before, and returns how many
// rows it changed.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) int64 {
	if tx.err != nil {
		return 0
	}
	res, err := tx.h.ExecContext(ctx, tx.d.Rebind(query), tx.args(args)...)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	tx.err = err
	return n
}

// Err is the transaction's first error.
func (tx *Tx) Err() error { return tx.err }

// Raw runs f with the driver's connection the transaction is on (COPY
// needs it), unless a statement failed before.
func (tx *Tx) Raw(f func(driverConn any) error) {
	if tx.err == nil {
		tx.err = tx.conn.Raw(f)
	}
}

// Native runs a statement written in the database's own SQL (a dialect's
// batch) once for each of rows, its arguments, prepared once, unless a
// statement failed before; with scan, it reads each row the statement
// returns.
func (tx *Tx) Native(ctx context.Context, query string, rows [][]any, scan func(scan func(dest ...any) error) error) {
	if tx.err != nil || len(rows) == 0 {
		return
	}
	h := tx.h
	if len(rows) > 1 {
		stmt, err := tx.h.(*sql.Tx).PrepareContext(ctx, query)
		if err != nil {
			tx.err = err
			return
		}
		defer stmt.Close()
		h, query = prepared{stmt}, ""
	}
	for _, args := range rows {
		var err error
		if scan == nil {
			_, err = h.ExecContext(ctx, query, tx.args(args)...)
		} else {
			err = scanAll(h.QueryContext(ctx, query, tx.args(args)...))(scan)
		}
		if err != nil {
			tx.err = err
			return
		}
	}
}

// prepared runs its statement whatever the query.
type prepared struct{ *sql.Stmt }

func (p prepared) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.Stmt.ExecContext(ctx, args...)
}

func (p prepared) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return p.Stmt.QueryContext(ctx, args...)
}

func (p prepared) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return p.Stmt.QueryRowContext(ctx, args...)
}

// scanAll calls scan with each row of rows.
func scanAll(rows *sql.Rows, err error) func(scan func(scan func(dest ...any) error) error) error {
	return func(scan func(scan func(dest ...any) error) error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() && err == nil {
			err = scan(rows.Scan)
		}
		return errors.Join(err, rows.Err())
	}
}

// Insert is a batch of rows for Dialect.Insert: Rows hold the values of
// Cols, in order, each column's of one Go type; Then follows them (ON
// CONFLICT, RETURNING: written here, without parameters), and Scan reads
// each row RETURNING gives.
type Insert struct {
	Table string
	Cols  []string
	Rows  [][]any
	Then  string
	Scan  func(scan func(dest ...any) error) error
}

// update runs fn in a write transaction and commits it if fn succeeds. On
// SQLite it is on the one writer connection, begun IMMEDIATE, so writers
// queue instead of failing; on PostgreSQL, READ COMMITTED, what the single
// writer serialised is serialised by row locks (FOR UPDATE, which SQLite's
// dialect drops) and LockTx. Its now is the database's, read first (the
// one place "now" is set). Errors say what was done, but for
// linkwatch.ErrNotFound and ErrConflict, which are the caller's answer.
func (db *DB) update(ctx context.Context, what string, fn func(*Tx) error) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return db.noteWrite(db.wrap(what, err))
	}
	defer conn.Close()
	stx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return db.noteWrite(db.wrap(what, err))
	}
	tx := &Tx{runner: runner{db.d, stx}, conn: conn}
	tx.now, err = db.now(ctx, tx.runner)
	if err == nil {
		err = fn(tx)
	}
	if err == nil {
		err = tx.err
	}
	if err == nil {
		err = stx.Commit()
	} else {
		_ = stx.Rollback()
	}
	return db.noteWrite(db.wrap(what, err))
}

// wrap names the database and the operation in a database error.
func (db *DB) wrap(what string, err error) error {
	if err == nil || errors.Is(err, linkwatch.ErrNotFound) || errors.Is(err, linkwatch.ErrConflict) {
		return err
	}
	return fmt.Errorf("%s: %s: %w", db.d.Name(), what, err)
}

// runner runs the SQL written here on a pool or a transaction, in its
// dialect.
type runner struct {
	d Dialect
	h interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (r runner) args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = r.d.Arg(a)
	}
	return out
}

func (r runner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.h.QueryContext(ctx, r.d.Rebind(query), r.args(args)...)
}

func (r runner) row(ctx context.Context, query string, args ...any) *sql.Row {
	return r.h.QueryRowContext(ctx, r.d.Rebind(query), r.args(args)...)
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// each runs a query and calls fn with each of its rows.
func each(ctx context.Context, r runner, query string, args []any, fn func(scanner) error) error {
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// all runs a query and scans each of its rows with scan.
func all[T any](ctx context.Context, r runner, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := each(ctx, r, query, args, func(row scanner) error {
		v, err := scan(row)
		out = append(out, v)
		return err
	})
	return out, err
}

// read runs a query on the read pool and scans each of its rows with
// scan; its error says what was read.
func read[T any](ctx context.Context, db *DB, what, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	out, err := all(ctx, db.read, query, args, scan)
	return out, db.wrap(what, err)
}

// missing is notFound where err says a row is missing.
func missing(err, notFound error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	return err
}

// at scans a stored time into t (UTC; zero for NULL): SQLite keeps times
// as fixed-width text, PostgreSQL as timestamptz.
func at(t *time.Time) sql.Scanner { return timeDest{t} }

type timeDest struct{ t *time.Time }

func (d timeDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = v.UTC()
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("a time stored as %T", v)
	}
	return nil
}

func (d timeDest) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	*d.t = t.UTC()
	return err
}

// jsonOf scans stored JSON into v (left as it is for NULL).
func jsonOf(v any) sql.Scanner { return jsonDest{v} }

type jsonDest struct{ v any }

func (d jsonDest) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(s), d.v)
	case []byte:
		return json.Unmarshal(s, d.v)
	}
	return fmt.Errorf("JSON stored as %T", src)
}

// JSON is v as a JSON argument, the one way values are stored as JSON
// (results, alerts, filters, incidents' lists).
type JSON struct{ V any }

// Value implements driver.Valuer.
func (j JSON) Value() (driver.Value, error) {
	b, err := json.Marshal(j.V)
	return string(b), err
}

// nullTime is NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
