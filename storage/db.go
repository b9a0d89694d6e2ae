// Package storage keeps linkwatch's state in SQLite: one writer connection for
// every write (BEGIN IMMEDIATE, so writers queue instead of failing), a pool
// of readers, and migrations embedded in the binary and applied at open.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3" // registers the sqlite3 driver; its errors say which are storage faults
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the linkwatch database.
type DB struct {
	path   string
	writer *sql.DB // exactly one connection: SQLite allows one writer
	reader *sql.DB

	targets committed[string, int64]   // target key -> id
	raw     committed[int64, rawState] // target id -> what decides raw keeping

	// Now is the clock used for stored times; tests replace it.
	Now func() time.Time

	faultMu sync.Mutex
	fault   WriteFault // the last write the database refused
}

// WriteFault is a write transaction the database refused: a full disk, a
// read-only file, a lock held too long. Errors of the caller's own making
// (a missing row, a cancelled context) are not faults.
type WriteFault struct {
	At  time.Time
	Err error
}

// readerConns bounds concurrent readers; WAL lets them run beside the writer.
const readerConns = 4

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("storage: empty database path")
	}
	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_busy_timeout", "5000")
	params.Set("_foreign_keys", "on")
	params.Set("_synchronous", "NORMAL") // durable across process crashes in WAL mode
	wparams := cloneValues(params)
	wparams.Set("_txlock", "immediate")
	file := uriPath(path)
	writer, err := sql.Open("sqlite3", file+"?"+wparams.Encode())
	if err != nil {
		return nil, fmt.Errorf("storage: open writer: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)

	rparams := cloneValues(params)
	rparams.Set("_query_only", "true")
	reader, err := sql.Open("sqlite3", file+"?"+rparams.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("storage: open reader: %w", err)
	}
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(readerConns)

	db := &DB{path: path, writer: writer, reader: reader, Now: time.Now}
	if err := db.migrate(ctx); err != nil {
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

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Close closes both pools. Writes in flight finish first.
func (db *DB) Close() error {
	return errors.Join(db.reader.Close(), db.writer.Close())
}

// LastWriteFault returns the last write the database refused (zero if none
// since Open). Readiness uses it: any write, not only a probe, shows that
// the writer cannot commit.
func (db *DB) LastWriteFault() WriteFault {
	db.faultMu.Lock()
	defer db.faultMu.Unlock()
	return db.fault
}

// noteWrite records a storage fault in err, if it is one, and returns err.
func (db *DB) noteWrite(err error) error {
	var se sqlite3.Error
	if err != nil && errors.As(err, &se) && se.Code != sqlite3.ErrInterrupt {
		db.faultMu.Lock()
		db.fault = WriteFault{At: db.Now(), Err: err}
		db.faultMu.Unlock()
	}
	return err
}

// WriteProbe commits a one-row write through the single writer: it fails
// when nothing can be written (read-only file, a lock held by another
// process past the busy timeout, a full disk).
func (db *DB) WriteProbe(ctx context.Context) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO write_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
			tx.now.Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("storage: write probe: %w", err)
		}
		return nil
	})
}

// Ping reports whether the database answers a read.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return nil
}

// Tx is a write transaction that carries the time it started, so every row
// written in it agrees on "now".
type Tx struct {
	*sql.Tx
	now time.Time
}

// beginTx starts a write transaction on the single writer connection. The
// driver issues BEGIN IMMEDIATE (_txlock=immediate), so a busy database makes
// it wait here rather than fail at the first write.
func (db *DB) beginTx(ctx context.Context) (*Tx, error) {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, db.noteWrite(fmt.Errorf("storage: begin: %w", err))
	}
	return &Tx{Tx: tx, now: db.Now().UTC()}, nil
}

// update runs fn in a write transaction and commits it if fn succeeds.
func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return db.noteWrite(err)
	}
	if err := tx.Commit(); err != nil {
		return db.noteWrite(fmt.Errorf("storage: commit: %w", err))
	}
	return nil
}

// migrate applies every embedded migration not yet recorded, each in its
// own transaction, in version order (NNNN_name.sql). Applied versions are
// recorded one by one, not as a high-water mark, so a migration that
// arrives with a lower number than one already applied (two branches
// merged) is applied rather than silently skipped; two files with one
// number are refused.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("storage: create migrations table: %w", err)
	}
	migrations, err := embeddedMigrations()
	if err != nil {
		return err
	}
	applied := map[int]bool{}
	rows, err := db.writer.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("storage: read schema versions: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("storage: read schema versions: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: read schema versions: %w", err)
	}
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		err := db.update(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, m.body); err != nil {
				return fmt.Errorf("storage: apply migration %s: %w", m.name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, tx.now.Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

type migration struct {
	version    int
	name, body string
}

// embeddedMigrations returns the migrations in version order.
func embeddedMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("storage: list migrations: %w", err)
	}
	var out []migration
	seen := map[int]string{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("storage: migration %s: name must start with a number", base)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("storage: migrations %s and %s share the number %d", other, base, version)
		}
		seen[version] = base
		body, err := fs.ReadFile(migrationFS, name)
		if err != nil {
			return nil, fmt.Errorf("storage: read migration %s: %w", base, err)
		}
		out = append(out, migration{version: version, name: base, body: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// IntegrityCheck runs SQLite's integrity check and returns its verdict
// ("ok" when the file is sound).
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	rows, err := db.reader.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return "", fmt.Errorf("storage: integrity check: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "; "), rows.Err()
}

// UsedBytes is how much of the database holds data: pages in use, after
// moving what the WAL holds into the main file, so the figure does not
// depend on when SQLite last checkpointed.
func (db *DB) UsedBytes(ctx context.Context) (int64, error) {
	if _, err := db.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		return 0, fmt.Errorf("storage: checkpoint: %w", err)
	}
	var pages, free, size int64
	for q, dst := range map[string]*int64{`PRAGMA page_count`: &pages, `PRAGMA freelist_count`: &free, `PRAGMA page_size`: &size} {
		if err := db.writer.QueryRowContext(ctx, q).Scan(dst); err != nil {
			return 0, fmt.Errorf("storage: %s: %w", q, err)
		}
	}
	return (pages - free) * size, nil
}
