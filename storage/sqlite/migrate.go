package sqlite

import (
	"context"
	"embed"
	"fmt"
	"time"

	"linkwatch/storage"
)

// migrationFS holds the schema; the file names and numbers are what
// schema_migrations records, so they never change.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrate applies every embedded migration not yet recorded, each in its
// own transaction, in version order (NNNN_name.sql). Applied versions are
// recorded one by one (see storage.Migration).
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: create migrations table: %w", err)
	}
	migrations, err := embeddedMigrations()
	if err != nil {
		return err
	}
	applied := map[int]bool{}
	rows, err := db.writer.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("sqlite: read schema versions: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: read schema versions: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: read schema versions: %w", err)
	}
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		err := db.update(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, m.Body); err != nil {
				return fmt.Errorf("sqlite: apply migration %s: %w", m.Name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, tx.now.Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// embeddedMigrations returns the migrations in version order.
func embeddedMigrations() ([]storage.Migration, error) {
	return storage.Migrations(migrationFS, "migrations")
}
