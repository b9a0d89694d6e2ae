package postgres

import (
	"context"
	"fmt"

	"linkwatch/storage"
)

// migrate applies every embedded migration not yet recorded, each in its
// own transaction, in version order, holding a session advisory lock for
// the whole run: replicas started together wait for the first to finish,
// then find every version recorded and apply nothing. Versions are
// recorded one by one, like the SQLite runner, so a migration merged in
// with a lower number than one applied is still applied.
func (db *DB) migrate(ctx context.Context) error {
	migrations, err := storage.Migrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, int32(lockSpace), int32(lockMigrate)); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	// Unlocked on this connection whatever happens; were the unlock to
	// fail, closing the connection ends the session and its lock.
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, int32(lockSpace), int32(lockMigrate)); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: create migrations table: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgres: read schema versions: %w", err)
	}
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("postgres: read schema versions: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: read schema versions: %w", err)
	}
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("postgres: apply migration %s: %w", m.Name, err)
		}
		// A migration file holds several statements: sent as one simple
		// query, which PostgreSQL runs inside the transaction.
		_, err = tx.Exec(ctx, m.Body)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, db.Now().UTC())
		}
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return fmt.Errorf("postgres: apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}
