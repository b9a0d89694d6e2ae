package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"linkwatch"

	"github.com/mattn/go-sqlite3"

	"linkwatch/incidents"
	"linkwatch/storage"
)

// timeFormat is fixed-width so stored times sort and compare as strings.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(t), Valid: true}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

const incidentColumns = `id, key, kind, title, cause, summary, status, impact, flapping, host, targets, affected,
	started_at, updated_at, alerts_suppressed, acknowledged_at, acknowledged_by, resolved_at, postmortem, version`

type rowScanner interface{ Scan(dest ...any) error }

func scanIncident(row rowScanner) (linkwatch.Incident, error) {
	var (
		inc                             linkwatch.Incident
		targets, affected, started, upd string
		ackAt, resolvedAt               sql.NullString
		postmortem                      string
	)
	err := row.Scan(&inc.ID, &inc.Key, &inc.Kind, &inc.Title, &inc.Cause, &inc.Summary, &inc.Status, &inc.Impact,
		&inc.Flapping, &inc.Host, &targets, &affected, &started, &upd, &inc.AlertsSuppressed, &ackAt, &inc.AcknowledgedBy,
		&resolvedAt, &postmortem, &inc.Version)
	if err != nil {
		return inc, err
	}
	inc.StartedAt, inc.UpdatedAt = parseTime(started), parseTime(upd)
	if ackAt.Valid {
		inc.AcknowledgedAt = parseTime(ackAt.String)
	}
	if resolvedAt.Valid {
		inc.ResolvedAt = parseTime(resolvedAt.String)
	}
	if err := errors.Join(json.Unmarshal([]byte(targets), &inc.Targets), json.Unmarshal([]byte(affected), &inc.Affected),
		json.Unmarshal([]byte(postmortem), &inc.Postmortem)); err != nil {
		return inc, fmt.Errorf("decode incident %d: %w", inc.ID, err)
	}
	return inc, nil
}

// OpenIncidents returns every unresolved incident.
func (db *DB) OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error) {
	return db.queryIncidents(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE resolved_at IS NULL ORDER BY id`)
}

// ListIncidents returns incidents newest first.
func (db *DB) ListIncidents(ctx context.Context, f linkwatch.IncidentQuery) ([]linkwatch.Incident, error) {
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE started_at >= ?`
	args := []any{formatTime(f.Since)}
	if f.Open != nil {
		if *f.Open {
			q += ` AND resolved_at IS NULL`
		} else {
			q += ` AND resolved_at IS NOT NULL`
		}
	}
	if f.Internal != nil {
		kinds := linkwatch.InternalKinds()
		op := "IN"
		if !*f.Internal {
			op = "NOT IN"
		}
		q += ` AND kind ` + op + ` (` + strings.TrimSuffix(strings.Repeat("?, ", len(kinds)), ", ") + `)`
		for _, k := range kinds {
			args = append(args, string(k))
		}
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, f.Limit)
	return db.queryIncidents(ctx, q, args...)
}

func (db *DB) queryIncidents(ctx context.Context, q string, args ...any) ([]linkwatch.Incident, error) {
	return queryAll(ctx, db.reader, "incidents", q, args, scanIncident)
}

// queryAll runs a query and scans each of its rows with scan; what names
// the rows in errors.
func queryAll[T any](ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, what, query string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan %s: %w", what, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Incident returns one incident.
func (db *DB) Incident(ctx context.Context, id int64) (linkwatch.Incident, error) {
	inc, err := scanIncident(db.reader.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, fmt.Errorf("incident %d: %w", id, linkwatch.ErrNotFound)
	}
	if err != nil {
		return inc, fmt.Errorf("sqlite: incident %d: %w", id, err)
	}
	return inc, nil
}

// Record writes an incident change, its events, evidence and alert in one
// transaction.
func (db *DB) Record(ctx context.Context, c incidents.Change) (linkwatch.Incident, error) {
	var saved linkwatch.Incident
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		saved, err = recordTx(ctx, tx, c)
		return err
	})
	return saved, err
}

func recordTx(ctx context.Context, tx *Tx, c incidents.Change) (linkwatch.Incident, error) {
	inc := c.Incident
	targets, err := json.Marshal(nonNil(inc.Targets))
	if err != nil {
		return inc, err
	}
	affected, err := json.Marshal(nonNil(inc.Affected))
	if err != nil {
		return inc, err
	}
	postmortem, err := json.Marshal(inc.Postmortem)
	if err != nil {
		return inc, err
	}
	args := []any{inc.Key, string(inc.Kind), inc.Title, string(inc.Cause), inc.Summary, string(inc.Status), string(inc.Impact),
		inc.Flapping, inc.Host, string(targets), string(affected), formatTime(inc.StartedAt), formatTime(inc.UpdatedAt),
		inc.AlertsSuppressed, nullTime(inc.AcknowledgedAt), inc.AcknowledgedBy, nullTime(inc.ResolvedAt), string(postmortem)}
	if inc.ID == 0 {
		err = tx.QueryRowContext(ctx, `INSERT INTO incidents (key, kind, title, cause, summary, status, impact, flapping, host,
			targets, affected, started_at, updated_at, alerts_suppressed, acknowledged_at, acknowledged_by, resolved_at, postmortem)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, args...).Scan(&inc.ID)
		var se sqlite3.Error
		if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique && strings.Contains(se.Error(), "incidents.key") {
			return inc, fmt.Errorf("incident %s is already open: %w", inc.Key, linkwatch.ErrConflict)
		}
		if err != nil {
			return inc, fmt.Errorf("sqlite: insert incident %s: %w", inc.Key, err)
		}
		inc.Version = 0
	} else {
		// The engine owns the detection columns; acknowledgement, postmortem
		// and the public status belong to people and are never overwritten
		// from here, but for a resolution and for an operator's update
		// (c.Update), which set the status, and an acknowledgement
		// (c.Acknowledged), refused if the row has one already. The row is
		// read back so the alert carries what people set.
		if c.Acknowledged {
			cur, err := lockIncident(ctx, tx, inc.ID)
			if err != nil {
				return inc, err
			}
			if err := linkwatch.CheckAcknowledge(cur); err != nil {
				return inc, err
			}
		}
		row := tx.QueryRowContext(ctx, `UPDATE incidents SET key = ?, kind = ?, title = ?, cause = ?, summary = ?,
			status = CASE WHEN ? = 'resolved' OR ? THEN ? ELSE status END,
			impact = ?, flapping = ?, host = ?, targets = ?, affected = ?, updated_at = ?, alerts_suppressed = ?,
			acknowledged_at = CASE WHEN ? THEN ? ELSE acknowledged_at END, acknowledged_by = CASE WHEN ? THEN ? ELSE acknowledged_by END,
			resolved_at = ?, version = version + 1 WHERE id = ? AND version = ? RETURNING `+incidentColumns,
			inc.Key, string(inc.Kind), inc.Title, string(inc.Cause), inc.Summary, string(inc.Status), c.Update != nil, string(inc.Status), string(inc.Impact),
			inc.Flapping, inc.Host, string(targets), string(affected), formatTime(inc.UpdatedAt), inc.AlertsSuppressed,
			c.Acknowledged, nullTime(inc.AcknowledgedAt), c.Acknowledged, inc.AcknowledgedBy,
			nullTime(inc.ResolvedAt), inc.ID, inc.Version)
		inc, err = scanIncident(row)
		if errors.Is(err, sql.ErrNoRows) {
			return inc, missingOrChanged(ctx, tx, c.Incident)
		}
		if err != nil {
			return inc, fmt.Errorf("sqlite: update incident %d: %w", c.Incident.ID, err)
		}
	}
	for _, ev := range c.Events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_events (incident_id, at, kind, body) VALUES (?, ?, ?, ?)`,
			inc.ID, formatTime(ev.At), string(ev.Kind), ev.Body); err != nil {
			return inc, fmt.Errorf("sqlite: insert incident event: %w", err)
		}
	}
	for _, r := range c.Evidence {
		b, err := json.Marshal(r)
		if err != nil {
			return inc, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_evidence (incident_id, result) VALUES (?, ?)`, inc.ID, string(b)); err != nil {
			return inc, fmt.Errorf("sqlite: insert evidence: %w", err)
		}
	}
	var update *linkwatch.Update
	if c.Update != nil {
		u, err := insertUpdate(ctx, tx, inc.ID, c.Update.Status, c.Update.Body)
		if err != nil {
			return inc, err
		}
		*c.Update, update = u, &u // the caller learns the update's id
	}
	if a := storage.ChangeAlert(c, inc, update, tx.now); a != nil {
		if err := enqueueAlert(ctx, tx, *a, c.GroupUntil); err != nil {
			return inc, err
		}
	}
	return inc, nil
}

// missingOrChanged says why an update matched no row: the incident does
// not exist, or it changed since the copy the change was computed from.
func missingOrChanged(ctx context.Context, tx *Tx, stale linkwatch.Incident) error {
	var version int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM incidents WHERE id = ?`, stale.ID).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("incident %d: %w", stale.ID, linkwatch.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: read incident %d: %w", stale.ID, err)
	}
	return fmt.Errorf("incident %d changed since version %d (now %d): %w", stale.ID, stale.Version, version, linkwatch.ErrConflict)
}

func insertUpdate(ctx context.Context, tx *Tx, id int64, status linkwatch.IncidentStatus, body string) (linkwatch.Update, error) {
	u := linkwatch.Update{IncidentID: id, Status: status, Body: body, CreatedAt: tx.now}
	err := tx.QueryRowContext(ctx, `INSERT INTO incident_updates (incident_id, status, body, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		id, string(status), body, formatTime(tx.now)).Scan(&u.ID)
	if err != nil {
		return u, fmt.Errorf("sqlite: insert update: %w", err)
	}
	return u, nil
}

// enqueueAlert puts an alert in the outbox, or, with groupUntil, holds it
// in the incident's alert group until then: a later alert of the same
// reason is merged into the held one; any other alert of the incident
// releases the held one first, so the incident's alerts keep their order.
func enqueueAlert(ctx context.Context, tx *Tx, a linkwatch.Alert, groupUntil time.Time) error {
	var reason, payload string
	err := tx.QueryRowContext(ctx, `SELECT reason, payload FROM alert_groups WHERE incident_id = ?`, a.IncidentID).Scan(&reason, &payload)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("sqlite: read alert group of incident %d: %w", a.IncidentID, err)
	case !groupUntil.IsZero() && reason == a.Reason:
		var held linkwatch.Alert
		if err := json.Unmarshal([]byte(payload), &held); err != nil {
			return fmt.Errorf("sqlite: decode alert group of incident %d: %w", a.IncidentID, err)
		}
		b, err := json.Marshal(held.Merge(a))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alert_groups SET payload = ? WHERE incident_id = ?`, string(b), a.IncidentID); err != nil {
			return fmt.Errorf("sqlite: merge into alert group: %w", err)
		}
		return nil
	default:
		if err := releaseGroup(ctx, tx, a.IncidentID, payload); err != nil {
			return err
		}
	}
	if groupUntil.IsZero() {
		return insertOutbox(ctx, tx, a)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO alert_groups (incident_id, reason, payload, due_at) VALUES (?, ?, ?, ?)`,
		a.IncidentID, a.Reason, string(b), formatTime(groupUntil)); err != nil {
		return fmt.Errorf("sqlite: hold alert in its group: %w", err)
	}
	return nil
}

// releaseGroup moves an incident's held alert into the outbox.
func releaseGroup(ctx context.Context, tx *Tx, incidentID int64, payload string) error {
	var a linkwatch.Alert
	if err := json.Unmarshal([]byte(payload), &a); err != nil {
		return fmt.Errorf("sqlite: decode alert group of incident %d: %w", incidentID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM alert_groups WHERE incident_id = ?`, incidentID); err != nil {
		return fmt.Errorf("sqlite: release alert group: %w", err)
	}
	return insertOutbox(ctx, tx, a)
}

// releaseDueGroups moves every held alert whose group interval has passed
// into the outbox, oldest first.
func releaseDueGroups(ctx context.Context, tx *Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT incident_id, payload FROM alert_groups WHERE due_at <= ? ORDER BY due_at, incident_id`, formatTime(tx.now))
	if err != nil {
		return fmt.Errorf("sqlite: query due alert groups: %w", err)
	}
	type group struct {
		id      int64
		payload string
	}
	var due []group
	for rows.Next() {
		var g group
		if err := rows.Scan(&g.id, &g.payload); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: scan alert group: %w", err)
		}
		due = append(due, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range due {
		if err := releaseGroup(ctx, tx, g.id, g.payload); err != nil {
			return err
		}
	}
	return nil
}

func insertOutbox(ctx context.Context, tx *Tx, a linkwatch.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.EventID, string(a.Type), a.IncidentID, string(b), formatTime(a.CreatedAt)); err != nil {
		return fmt.Errorf("sqlite: insert outbox alert: %w", err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// IncidentEvents returns an incident's timeline, oldest first.
func (db *DB) IncidentEvents(ctx context.Context, id int64) ([]linkwatch.Event, error) {
	return queryAll(ctx, db.reader, "events", `SELECT id, incident_id, at, kind, body FROM incident_events WHERE incident_id = ? ORDER BY id`, []any{id},
		func(row rowScanner) (linkwatch.Event, error) {
			var ev linkwatch.Event
			var at string
			err := row.Scan(&ev.ID, &ev.IncidentID, &at, &ev.Kind, &ev.Body)
			ev.At = parseTime(at)
			return ev, err
		})
}

// IncidentEvidence returns the results kept as an incident's evidence.
func (db *DB) IncidentEvidence(ctx context.Context, id int64) ([]json.RawMessage, error) {
	return queryAll(ctx, db.reader, "evidence", `SELECT result FROM incident_evidence WHERE incident_id = ? ORDER BY id`, []any{id},
		func(row rowScanner) (json.RawMessage, error) {
			var s string
			err := row.Scan(&s)
			return json.RawMessage(s), err
		})
}

// IncidentUpdates returns an incident's public updates, oldest first.
func (db *DB) IncidentUpdates(ctx context.Context, id int64) ([]linkwatch.Update, error) {
	return queryAll(ctx, db.reader, "updates", `SELECT id, incident_id, status, body, created_at FROM incident_updates WHERE incident_id = ? ORDER BY id`, []any{id},
		func(row rowScanner) (linkwatch.Update, error) {
			var u linkwatch.Update
			var at string
			err := row.Scan(&u.ID, &u.IncidentID, &u.Status, &u.Body, &at)
			u.CreatedAt = parseTime(at)
			return u, err
		})
}

// Outbox returns queued alerts, oldest first (the alerting dispatcher's queue).
func (db *DB) Outbox(ctx context.Context, limit int) ([]linkwatch.Alert, error) {
	return queryAll(ctx, db.reader, "outbox", `SELECT payload FROM outbox ORDER BY id LIMIT ?`, []any{limit},
		func(row rowScanner) (linkwatch.Alert, error) {
			var s string
			var a linkwatch.Alert
			if err := row.Scan(&s); err != nil {
				return a, err
			}
			if err := json.Unmarshal([]byte(s), &a); err != nil {
				return a, fmt.Errorf("decode alert: %w", err)
			}
			return a, nil
		})
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// The DB is a storage backend, and so the incident engine's store.
var (
	_ storage.Store   = (*DB)(nil)
	_ incidents.Store = (*DB)(nil)
)
