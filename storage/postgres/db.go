// Package postgres opens linkwatch's database on a PostgreSQL server, so
// replicas can share it: storage.DB (the same code, and the contract
// suite in storage/storagetest, as on SQLite) over pgx's database/sql
// driver and connection pool, migrations embedded in the binary and
// applied under an advisory lock, and the dialect that writes raw results
// with COPY and takes row and advisory locks where SQLite's single writer
// serialises everything.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"linkwatch/storage"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the linkwatch database on PostgreSQL.
type DB struct {
	*storage.DB
	pool *pgxpool.Pool
	sql  *sql.DB // over pool: migrations hold a session lock on one of its connections
	host string  // host:port for errors and logs; never the DSN (it holds the password)
}

// Open connects to the database named by dsn (a postgres:// URL or
// key=value pairs, as libpq takes them, with pgxpool's pool_ settings) and
// applies pending migrations. Errors name the host, never the password.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := New(dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// New returns the database named by dsn without reaching it: its pool
// connects on first use, and every query fails until the server answers.
// Migrate makes it usable; until then it is what a running replica's
// database is during an outage, so a replica can start, and serve from
// memory, while its database is down.
func New(dsn string) (*DB, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	host := hostOf(cfg.ConnConfig.Config)
	// The pool connects on demand (pool_min_conns ones in the background).
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", host, err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	d := &dialect{config: cfg.ConnConfig, host: host}
	return &DB{DB: storage.NewDB(d, sqlDB, sqlDB), pool: pool, sql: sqlDB, host: host}, nil
}

// Migrate reaches the server and applies pending migrations: an
// unreachable host, a wrong password or a missing database is its error,
// naming the host. It may be called again after a failure.
func (db *DB) Migrate(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: connect to %s: %w", db.host, err)
	}
	ms, err := storage.Migrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect to %s: %w", db.host, err)
	}
	defer conn.Close()
	return migrate(ctx, conn, ms)
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

// Close closes the database, then the pool under it.
func (db *DB) Close() error {
	err := db.DB.Close()
	db.pool.Close()
	return err
}

// migrate applies on conn the migrations of ms not yet recorded, holding
// a session advisory lock for the whole run: replicas started together
// wait for the first to finish, then find every version recorded and
// apply nothing.
func migrate(ctx context.Context, conn *sql.Conn, ms []storage.Migration) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, $2)`, lockSpace, lockMigrate); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	// Unlocked on this connection whatever happens; were the unlock to
	// fail, closing the connection ends the session and its lock.
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockSpace, lockMigrate); err != nil {
			_ = conn.Raw(func(dc any) error { return dc.(*stdlib.Conn).Close() })
		}
	}()
	return storage.Migrate(ctx, conn, &dialect{}, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`, ms)
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
