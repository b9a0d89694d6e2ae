package storage

import (
	"context"
	"fmt"

	"linkwatch"
)

// CreateSession stores a console session, and deletes those whose
// absolute expiry has passed by its creation: the table holds live
// sessions, and ones idle past their idle expiry until their absolute one.
func (db *DB) CreateSession(ctx context.Context, s linkwatch.ConsoleSession) error {
	return db.update(ctx, "create console session", func(tx *Tx) error {
		tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1`, s.CreatedAt)
		tx.Exec(ctx, `INSERT INTO console_sessions (id, operator, csrf, client, created_at, seen_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.ID, s.Operator, s.CSRF, s.Client, s.CreatedAt, s.SeenAt, s.ExpiresAt)
		return nil
	})
}

// Session returns the console session with id (ErrNotFound: never made,
// signed out or deleted). Whether it has expired is the caller's to say:
// the store keeps times, the console its rules.
func (db *DB) Session(ctx context.Context, id string) (linkwatch.ConsoleSession, error) {
	var s linkwatch.ConsoleSession
	err := db.read.row(ctx, `SELECT id, operator, csrf, client, created_at, seen_at, expires_at FROM console_sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.Operator, &s.CSRF, &s.Client, at(&s.CreatedAt), at(&s.SeenAt), at(&s.ExpiresAt))
	return s, db.wrap("read console session", missing(err, fmt.Errorf("console session: %w", linkwatch.ErrNotFound)))
}

// TouchSession records a request of the session at s.SeenAt (the idle
// expiry counts from it). A session signed out meanwhile is ErrNotFound:
// it is not brought back.
func (db *DB) TouchSession(ctx context.Context, s linkwatch.ConsoleSession) error {
	return db.update(ctx, "touch console session", func(tx *Tx) error {
		if tx.Exec(ctx, `UPDATE console_sessions SET seen_at = $2 WHERE id = $1`, s.ID, s.SeenAt) == 0 && tx.err == nil {
			return fmt.Errorf("console session: %w", linkwatch.ErrNotFound)
		}
		return nil
	})
}

// EndSession deletes a console session: signed out, or expired. Ending
// one that is gone already is no error.
func (db *DB) EndSession(ctx context.Context, id string) error {
	return db.update(ctx, "end console session", func(tx *Tx) error {
		tx.Exec(ctx, `DELETE FROM console_sessions WHERE id = $1`, id)
		return nil
	})
}

// Audit records a console action at the database's time, and returns it
// with its id and time.
func (db *DB) Audit(ctx context.Context, e linkwatch.AuditEntry) (linkwatch.AuditEntry, error) {
	err := db.update(ctx, "record audit entry", func(tx *Tx) error {
		e.At = tx.now
		var incident any
		if e.IncidentID != 0 {
			incident = e.IncidentID
		}
		return tx.row(ctx, `INSERT INTO audit_log (at, actor, action, incident_id, detail, client, outcome)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, e.At, e.Actor, e.Action, incident, e.Detail, e.Client, e.Outcome).Scan(&e.ID)
	})
	return e, err
}

// AuditLog returns the audit entries q selects, newest first.
func (db *DB) AuditLog(ctx context.Context, q linkwatch.AuditQuery) ([]linkwatch.AuditEntry, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	out, err := read(ctx, db, "read audit log", `SELECT id, at, actor, action, COALESCE(incident_id, 0), detail, client, outcome FROM audit_log
		WHERE ($1 = 0 OR incident_id = $1) AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, []any{q.IncidentID, q.Before, limit},
		func(row scanner) (e linkwatch.AuditEntry, err error) {
			return e, row.Scan(&e.ID, at(&e.At), &e.Actor, &e.Action, &e.IncidentID, &e.Detail, &e.Client, &e.Outcome)
		})
	return nonNil(out), err
}
