// Package postgres keeps linkwatch's state in PostgreSQL, so replicas can
// share one database: the same behaviour as storage/sqlite (the contract
// suite in storage/storagetest runs on both), with a pgx connection pool,
// migrations embedded in the binary and applied under an advisory lock,
// results written with COPY, and row and advisory locks where SQLite's
// single writer used to serialise everything.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"linkwatch/storage"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the linkwatch database on PostgreSQL.
type DB struct {
	pool *pgxpool.Pool
	host string // host:port for errors and logs; never the DSN (it holds the password)

	targets storage.Committed[string, int64] // target key -> id
	// saveMu makes one process's result batches plan and commit one at a
	// time, so the sampler sees them in the order they are written.
	saveMu  sync.Mutex
	sampler storage.Sampler

	// Now is the clock used for stored times; tests replace it.
	Now func() time.Time

	faultMu sync.Mutex
	fault   storage.WriteFault // the last write the database refused

	sessMu   sync.Mutex
	sessions map[string]*session // held session locks, by name
}

// Open connects to the database named by dsn (a postgres:// URL or
// key=value pairs, as libpq takes them) and applies pending migrations.
// Errors name the host, never the password.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	host := hostOf(cfg.ConnConfig.Config)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", host, err)
	}
	db := &DB{pool: pool, host: host, Now: time.Now}
	// The pool connects lazily: ping now, so a wrong password or an
	// unreachable host is an error of Open, not of the first write.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", host, err)
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// quoted finds what a parse error quotes: url.Parse quotes the whole URL,
// password included.
var quoted = regexp.MustCompile("\"[^\"]*\"|`[^`]{2,}`")

// ParseDSN parses a connection string for Open. Its error says what is
// wrong without quoting the string: pgx redacts passwords only as well as
// it can guess where they are, and a malformed string defeats guessing.
func ParseDSN(dsn string) (*pgxpool.Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres: empty dsn")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
		msg = strings.TrimSpace(quoted.ReplaceAllString(msg, "(the dsn)"))
		return nil, fmt.Errorf("postgres: invalid dsn: %s", msg)
	}
	return cfg, nil
}

// hostOf names where a config connects, for errors.
func hostOf(c pgconn.Config) string {
	if strings.HasPrefix(c.Host, "/") {
		return c.Host // a unix socket directory
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
}

// Host is where the database is (host:port), for logs.
func (db *DB) Host() string { return db.host }

// Close closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	db.closeSessions()
	db.pool.Close()
	return nil
}

// LastWriteFault returns the last write the database refused (zero if none
// since Open). Readiness uses it: any write, not only a probe, shows that
// writes cannot commit.
func (db *DB) LastWriteFault() storage.WriteFault {
	db.faultMu.Lock()
	defer db.faultMu.Unlock()
	return db.fault
}

// noteWrite records a storage fault in err, if it is one, and returns err.
func (db *DB) noteWrite(err error) error {
	if isFault(err) {
		db.faultMu.Lock()
		db.fault = storage.WriteFault{At: db.Now(), Err: err}
		db.faultMu.Unlock()
	}
	return err
}

// isFault tells the database's faults (unreachable, out of disk, read-only
// after a failover, shut down) from the caller's own errors (a cancelled
// context, a missing row, a constraint the change broke).
func isFault(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, linkwatch.ErrNotFound) || errors.Is(err, linkwatch.ErrConflict) {
		return false
	}
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
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed)
}

// WriteProbe commits a one-row write: it fails when nothing can be written
// (the server is read-only, out of disk, or gone).
func (db *DB) WriteProbe(ctx context.Context) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO write_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at`, tx.now)
		if err != nil {
			return fmt.Errorf("postgres: write probe: %w", err)
		}
		return nil
	})
}

// Ping reports whether the database answers a read.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("postgres: ping %s: %w", db.host, err)
	}
	return nil
}

// Tx is a write transaction that carries the time it started, so every row
// written in it agrees on "now".
type Tx struct {
	pgx.Tx
	now time.Time
}

// update runs fn in a READ COMMITTED transaction and commits it if fn
// succeeds. What SQLite's single writer serialised, the methods serialise
// here with row locks (SELECT ... FOR UPDATE) and advisory locks.
func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	ptx, err := db.pool.Begin(ctx)
	if err != nil {
		return db.noteWrite(fmt.Errorf("postgres: begin: %w", err))
	}
	tx := &Tx{Tx: ptx, now: db.Now().UTC()}
	if err := fn(tx); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return db.noteWrite(err)
	}
	if err := ptx.Commit(ctx); err != nil {
		return db.noteWrite(fmt.Errorf("postgres: commit: %w", err))
	}
	return nil
}

// Advisory lock keys (the two int4 halves of pg_advisory_xact_lock): one
// namespace for linkwatch, one key per thing serialised across replicas.
const (
	lockSpace   = 0x6c77 // "lw"
	lockMigrate = 1      // session lock: schema migrations
	lockOutbox  = 2      // transaction lock: outbox and alert group writes, fan-out
	lockRollup  = 3      // transaction lock: the hour rollup job

	lockSpaceMember = 0x6c6d // "lm": session locks of members, keyed by memberLockKey
	lockSpaceNamed  = 0x6c6e // "ln": named session locks (HoldLock), keyed by a hash of the name
)

// lock takes a transaction-level advisory lock, released at commit or
// rollback.
func (tx *Tx) lock(ctx context.Context, key int32) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(lockSpace), key); err != nil {
		return fmt.Errorf("postgres: advisory lock %d: %w", key, err)
	}
	return nil
}

// UsedBytes is how much disk linkwatch's tables take, indexes and TOAST
// included (what storage growth is measured by).
func (db *DB) UsedBytes(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: table sizes: %w", err)
	}
	return n, nil
}
