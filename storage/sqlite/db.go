// Package sqlite is the SQLite backend of storage.Store: one writer
// connection for every write (BEGIN IMMEDIATE, so writers queue instead of
// failing), a pool of readers, and migrations embedded in the binary and
// applied at open.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3" // registers the sqlite3 driver; its errors say which are storage faults

	"linkwatch/storage"
)

// DB is the linkwatch database.
type DB struct {
	path   string
	writer *sql.DB // exactly one connection: SQLite allows one writer
	reader *sql.DB

	targets storage.Committed[string, int64] // target key -> id
	sampler storage.Sampler                  // which results are kept raw

	// Now is the clock used for stored times; tests replace it.
	Now func() time.Time

	faultMu sync.Mutex
	fault   storage.WriteFault // the last write the database refused
}

// readerConns bounds concurrent readers; WAL lets them run beside the writer.
const readerConns = 4

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
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
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)

	rparams := cloneValues(params)
	rparams.Set("_query_only", "true")
	reader, err := sql.Open("sqlite3", file+"?"+rparams.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open reader: %w", err)
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
func (db *DB) LastWriteFault() storage.WriteFault {
	db.faultMu.Lock()
	defer db.faultMu.Unlock()
	return db.fault
}

// noteWrite records a storage fault in err, if it is one, and returns err.
func (db *DB) noteWrite(err error) error {
	var se sqlite3.Error
	if err != nil && errors.As(err, &se) && se.Code != sqlite3.ErrInterrupt {
		db.faultMu.Lock()
		db.fault = storage.WriteFault{At: db.Now(), Err: err}
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
			return fmt.Errorf("sqlite: write probe: %w", err)
		}
		return nil
	})
}

// Ping reports whether the database answers a read.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
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
		return nil, db.noteWrite(fmt.Errorf("sqlite: begin: %w", err))
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
		return db.noteWrite(fmt.Errorf("sqlite: commit: %w", err))
	}
	return nil
}

// IntegrityCheck runs SQLite's integrity check and returns its verdict
// ("ok" when the file is sound).
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	rows, err := db.reader.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return "", fmt.Errorf("sqlite: integrity check: %w", err)
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
