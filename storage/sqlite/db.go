// Package sqlite opens linkwatch's database in a SQLite file: storage.DB
// over one writer connection for every write (BEGIN IMMEDIATE, so writers
// queue instead of failing) and a pool of read-only connections, with
// migrations embedded in the binary and applied at open, and the dialect
// that turns storage's SQL into SQLite's.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"

	_ "github.com/mattn/go-sqlite3" // the sqlite3 driver

	"linkwatch/storage"
)

// DB is the linkwatch database in a SQLite file.
type DB struct {
	*storage.DB
	writer *sql.DB // exactly one connection: SQLite allows one writer
	reader *sql.DB
}

// migrationFS holds the schema; the file names and numbers are what
// schema_migrations records, so they never change.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// readerConns bounds concurrent readers; WAL lets them run beside the writer.
const readerConns = 4

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	open := func(mode string, conns int) (*sql.DB, error) {
		params := url.Values{"_journal_mode": {"WAL"}, "_busy_timeout": {"5000"}, "_foreign_keys": {"on"},
			"_synchronous": {"NORMAL"}} // durable across process crashes in WAL mode
		params.Set(mode, map[string]string{"_txlock": "immediate", "_query_only": "true"}[mode])
		db, err := sql.Open("sqlite3", uriPath(path)+"?"+params.Encode())
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		return db, nil
	}
	writer, err := open("_txlock", 1)
	if err != nil {
		return nil, err
	}
	reader, err := open("_query_only", readerConns)
	if err != nil {
		writer.Close()
		return nil, err
	}
	db := &DB{DB: storage.NewDB(dialect{}, writer, reader), writer: writer, reader: reader}
	ms, err := embeddedMigrations()
	if err == nil {
		err = withConn(ctx, writer, func(conn *sql.Conn) error { return migrate(ctx, conn, ms) })
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// uriPath makes path a SQLite URI filename. '?' and '#' end a URI's path,
// so unescaped they would open another file (and drop every parameter);
// SQLite decodes the %HH escapes back.
func uriPath(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// migrate applies on conn (the writer's) the migrations of ms not yet
// applied.
func migrate(ctx context.Context, conn *sql.Conn, ms []storage.Migration) error {
	return storage.Migrate(ctx, conn, dialect{}, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`, ms)
}

// withConn runs fn on a connection of db.
func withConn(ctx context.Context, db *sql.DB, fn func(*sql.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer conn.Close()
	return fn(conn)
}

// embeddedMigrations returns the migrations in version order.
func embeddedMigrations() ([]storage.Migration, error) {
	return storage.Migrations(migrationFS, "migrations")
}

// IntegrityCheck runs SQLite's integrity check and returns its verdict
// ("ok" when the file is sound).
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var verdict string
	if err := db.reader.QueryRowContext(ctx, `SELECT group_concat(integrity_check, '; ') FROM pragma_integrity_check`).Scan(&verdict); err != nil {
		return "", fmt.Errorf("sqlite: integrity check: %w", err)
	}
	return verdict, nil
}

// UsedBytes is how much of the database holds data: pages in use, after
// moving what the WAL holds into the main file, so the figure does not
// depend on when SQLite last checkpointed.
func (db *DB) UsedBytes(ctx context.Context) (int64, error) {
	if _, err := db.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		return 0, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	var pages, free, size int64
	for q, dst := range map[string]*int64{`PRAGMA page_count`: &pages, `PRAGMA freelist_count`: &free, `PRAGMA page_size`: &size} {
		if err := db.writer.QueryRowContext(ctx, q).Scan(dst); err != nil {
			return 0, fmt.Errorf("sqlite: %s: %w", q, err)
		}
	}
	return (pages - free) * size, nil
}
