package storage

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migration is one schema change, a file NNNN_name.sql. Backends record
// each applied version (and its name) one by one, not as a high-water
// mark, so a migration that arrives with a lower number than one already
// applied (two branches merged) is applied rather than silently skipped.
type Migration struct {
	Version    int
	Name, Body string // Name is the file name
}

// Migrations reads the *.sql files of dir in fsys, in version order. Two
// files with one number are refused.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("storage: list migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("storage: migration %s: name must start with a number", base)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("storage: migrations %s and %s share the number %d", other, base, version)
		}
		seen[version] = base
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("storage: read migration %s: %w", base, err)
		}
		out = append(out, Migration{Version: version, Name: base, Body: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, nil
}

// Migrate applies on conn every migration of ms not yet recorded in
// schema_migrations (created by ddl), each in its own transaction, in
// version order. Versions are recorded one by one (see Migration).
func Migrate(ctx context.Context, conn *sql.Conn, d Dialect, ddl string, ms []Migration) error {
	if _, err := conn.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("%s: create the migrations table: %w", d.Name(), err)
	}
	applied := map[int]bool{}
	err := each(ctx, runner{d, conn}, `SELECT version FROM schema_migrations`, nil, func(row scanner) error {
		var v int
		err := row.Scan(&v)
		applied[v] = true
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: read schema versions: %w", d.Name(), err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err == nil {
			// A migration holds several statements: without arguments,
			// both drivers run them all.
			_, err = tx.ExecContext(ctx, m.Body)
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`),
				m.Version, m.Name, d.Arg(time.Now().UTC()))
		}
		if err == nil {
			err = tx.Commit()
		} else if tx != nil {
			_ = tx.Rollback()
		}
		if err != nil {
			return fmt.Errorf("%s: apply migration %s: %w", d.Name(), m.Name, err)
		}
	}
	return nil
}
