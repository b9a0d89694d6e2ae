package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"linkwatch/incidents"
	"linkwatch/storage"
)

// nullTime is NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// utc is a stored time as the SQLite backend returns it: in UTC, zero for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

const incidentColumns = `id, key, kind, title, cause, summary, status, impact, flapping, host, targets, affected,
	started_at, updated_at, alerts_suppressed, acknowledged_at, acknowledged_by, resolved_at, postmortem, version`

func scanIncident(row pgx.Row) (linkwatch.Incident, error) {
	var (
		inc                           linkwatch.Incident
		targets, affected, postmortem []byte
		started, upd                  time.Time
		ackAt, resolvedAt             *time.Time
	)
	err := row.Scan(&inc.ID, &inc.Key, &inc.Kind, &inc.Title, &inc.Cause, &inc.Summary, &inc.Status, &inc.Impact,
		&inc.Flapping, &inc.Host, &targets, &affected, &started, &upd, &inc.AlertsSuppressed, &ackAt, &inc.AcknowledgedBy,
		&resolvedAt, &postmortem, &inc.Version)
	if err != nil {
		return inc, err
	}
	inc.StartedAt, inc.UpdatedAt, inc.AcknowledgedAt, inc.ResolvedAt = started.UTC(), upd.UTC(), utc(ackAt), utc(resolvedAt)
	if err := errors.Join(json.Unmarshal(targets, &inc.Targets), json.Unmarshal(affected, &inc.Affected),
		json.Unmarshal(postmortem, &inc.Postmortem)); err != nil {
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
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE started_at >= $1`
	if f.Open != nil {
		if *f.Open {
			q += ` AND resolved_at IS NULL`
		} else {
			q += ` AND resolved_at IS NOT NULL`
		}
	}
	args := []any{f.Since.UTC()}
	if f.Internal != nil {
		var kinds []string
		for _, k := range linkwatch.InternalKinds() {
			kinds = append(kinds, string(k))
		}
		if *f.Internal {
			q += ` AND kind = ANY($2)`
		} else {
			q += ` AND kind <> ALL($2)`
		}
		args = append(args, kinds)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(` ORDER BY started_at DESC, id DESC LIMIT $%d`, len(args))
	return db.queryIncidents(ctx, q, args...)
}

func (db *DB) queryIncidents(ctx context.Context, q string, args ...any) ([]linkwatch.Incident, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: query incidents: %w", err)
	}
	defer rows.Close()
	var out []linkwatch.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: scan incident: %w", err)
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// Incident returns one incident.
func (db *DB) Incident(ctx context.Context, id int64) (linkwatch.Incident, error) {
	inc, err := scanIncident(db.pool.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return inc, fmt.Errorf("incident %d: %w", id, linkwatch.ErrNotFound)
	}
	if err != nil {
		return inc, fmt.Errorf("postgres: incident %d: %w", id, err)
	}
	return inc, nil
}

// Record writes an incident change, its events, evidence, public update and
// alert in one transaction. One with an alert takes the outbox lock first
// (see insertOutbox), before any row lock, so it cannot deadlock with the
// fan-out.
func (db *DB) Record(ctx context.Context, c incidents.Change) (linkwatch.Incident, error) {
	var saved linkwatch.Incident
	err := db.update(ctx, func(tx *Tx) error {
		if c.Alert != nil {
			if err := tx.lock(ctx, lockOutbox); err != nil {
				return err
			}
		}
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
	if inc.ID == 0 {
		err = tx.QueryRow(ctx, `INSERT INTO incidents (key, kind, title, cause, summary, status, impact, flapping, host,
			targets, affected, started_at, updated_at, alerts_suppressed, acknowledged_at, acknowledged_by, resolved_at, postmortem)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id`,
			inc.Key, string(inc.Kind), inc.Title, string(inc.Cause), inc.Summary, string(inc.Status), string(inc.Impact),
			inc.Flapping, inc.Host, string(targets), string(affected), inc.StartedAt.UTC(), inc.UpdatedAt.UTC(),
			inc.AlertsSuppressed, nullTime(inc.AcknowledgedAt), inc.AcknowledgedBy, nullTime(inc.ResolvedAt), string(postmortem)).Scan(&inc.ID)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "incidents_open_key" {
			// Another replica opened it first (a host being handed over).
			return inc, fmt.Errorf("incident %s is already open: %w", inc.Key, linkwatch.ErrConflict)
		}
		inc.Version = 0
		if err != nil {
			return inc, fmt.Errorf("postgres: insert incident %s: %w", inc.Key, err)
		}
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
		row := tx.QueryRow(ctx, `UPDATE incidents SET key = $1, kind = $2, title = $3, cause = $4, summary = $5,
			status = CASE WHEN $6 = 'resolved' OR $7 THEN $6 ELSE status END,
			impact = $8, flapping = $9, host = $10, targets = $11, affected = $12, updated_at = $13, alerts_suppressed = $14,
			resolved_at = $15, version = version + 1,
			acknowledged_at = CASE WHEN $18 THEN $19 ELSE acknowledged_at END, acknowledged_by = CASE WHEN $18 THEN $20 ELSE acknowledged_by END
			WHERE id = $16 AND version = $17 RETURNING `+incidentColumns,
			inc.Key, string(inc.Kind), inc.Title, string(inc.Cause), inc.Summary, string(inc.Status), c.Update != nil, string(inc.Impact),
			inc.Flapping, inc.Host, string(targets), string(affected), inc.UpdatedAt.UTC(), inc.AlertsSuppressed,
			nullTime(inc.ResolvedAt), inc.ID, inc.Version, c.Acknowledged, nullTime(inc.AcknowledgedAt), inc.AcknowledgedBy)
		inc, err = scanIncident(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return inc, missingOrChanged(ctx, tx, c.Incident)
		}
		if err != nil {
			return inc, fmt.Errorf("postgres: update incident %d: %w", c.Incident.ID, err)
		}
	}
	for _, ev := range c.Events {
		if _, err := tx.Exec(ctx, `INSERT INTO incident_events (incident_id, at, kind, body) VALUES ($1, $2, $3, $4)`,
			inc.ID, ev.At.UTC(), string(ev.Kind), ev.Body); err != nil {
			return inc, fmt.Errorf("postgres: insert incident event: %w", err)
		}
	}
	for _, r := range c.Evidence {
		b, err := json.Marshal(r)
		if err != nil {
			return inc, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO incident_evidence (incident_id, result) VALUES ($1, $2)`, inc.ID, string(b)); err != nil {
			return inc, fmt.Errorf("postgres: insert evidence: %w", err)
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
// not exist, or another replica changed it since the copy the change was
// computed from.
func missingOrChanged(ctx context.Context, tx *Tx, stale linkwatch.Incident) error {
	var version int64
	err := tx.QueryRow(ctx, `SELECT version FROM incidents WHERE id = $1`, stale.ID).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("incident %d: %w", stale.ID, linkwatch.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: read incident %d: %w", stale.ID, err)
	}
	return fmt.Errorf("incident %d changed since version %d (now %d): %w", stale.ID, stale.Version, version, linkwatch.ErrConflict)
}

func insertUpdate(ctx context.Context, tx *Tx, id int64, status linkwatch.IncidentStatus, body string) (linkwatch.Update, error) {
	u := linkwatch.Update{IncidentID: id, Status: status, Body: body, CreatedAt: tx.now}
	err := tx.QueryRow(ctx, `INSERT INTO incident_updates (incident_id, status, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		id, string(status), body, tx.now).Scan(&u.ID)
	if err != nil {
		return u, fmt.Errorf("postgres: insert update: %w", err)
	}
	return u, nil
}

// enqueueAlert puts an alert in the outbox, or, with groupUntil, holds it
// in the incident's alert group until then: a later alert of the same
// reason is merged into the held one; any other alert of the incident
// releases the held one first, so the incident's alerts keep their order.
// The caller holds the outbox lock.
func enqueueAlert(ctx context.Context, tx *Tx, a linkwatch.Alert, groupUntil time.Time) error {
	var reason string
	var payload []byte
	err := tx.QueryRow(ctx, `SELECT reason, payload FROM alert_groups WHERE incident_id = $1 FOR UPDATE`, a.IncidentID).Scan(&reason, &payload)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("postgres: read alert group of incident %d: %w", a.IncidentID, err)
	case !groupUntil.IsZero() && reason == a.Reason:
		var held linkwatch.Alert
		if err := json.Unmarshal(payload, &held); err != nil {
			return fmt.Errorf("postgres: decode alert group of incident %d: %w", a.IncidentID, err)
		}
		b, err := json.Marshal(held.Merge(a))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE alert_groups SET payload = $1 WHERE incident_id = $2`, string(b), a.IncidentID); err != nil {
			return fmt.Errorf("postgres: merge into alert group: %w", err)
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
	if _, err := tx.Exec(ctx, `INSERT INTO alert_groups (incident_id, reason, payload, due_at) VALUES ($1, $2, $3, $4)`,
		a.IncidentID, a.Reason, string(b), groupUntil.UTC()); err != nil {
		return fmt.Errorf("postgres: hold alert in its group: %w", err)
	}
	return nil
}

// releaseGroup moves an incident's held alert into the outbox.
func releaseGroup(ctx context.Context, tx *Tx, incidentID int64, payload []byte) error {
	var a linkwatch.Alert
	if err := json.Unmarshal(payload, &a); err != nil {
		return fmt.Errorf("postgres: decode alert group of incident %d: %w", incidentID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM alert_groups WHERE incident_id = $1`, incidentID); err != nil {
		return fmt.Errorf("postgres: release alert group: %w", err)
	}
	return insertOutbox(ctx, tx, a)
}

// releaseDueGroups moves every held alert whose group interval has passed
// into the outbox, oldest first. The caller holds the outbox lock.
func releaseDueGroups(ctx context.Context, tx *Tx) error {
	rows, err := tx.Query(ctx, `SELECT incident_id, payload FROM alert_groups WHERE due_at <= $1 ORDER BY due_at, incident_id FOR UPDATE`, tx.now)
	if err != nil {
		return fmt.Errorf("postgres: query due alert groups: %w", err)
	}
	type group struct {
		id      int64
		payload []byte
	}
	var due []group
	var g group
	if _, err := pgx.ForEachRow(rows, []any{&g.id, &g.payload}, func() error { due = append(due, g); return nil }); err != nil {
		return fmt.Errorf("postgres: scan alert group: %w", err)
	}
	for _, g := range due {
		if err := releaseGroup(ctx, tx, g.id, g.payload); err != nil {
			return err
		}
	}
	return nil
}

// insertOutbox writes an alert to the outbox. Every transaction that gets
// here took the outbox lock (an advisory transaction lock) before writing
// anything, so outbox ids commit in order across replicas: FanOut's "every
// id after the last one this channel saw" never passes over an alert that
// a slower transaction commits later.
func insertOutbox(ctx context.Context, tx *Tx, a linkwatch.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		a.EventID, string(a.Type), a.IncidentID, string(b), a.CreatedAt.UTC()); err != nil {
		return fmt.Errorf("postgres: insert outbox alert: %w", err)
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
	rows, err := db.pool.Query(ctx, `SELECT id, incident_id, at, kind, body FROM incident_events WHERE incident_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: query events: %w", err)
	}
	var out []linkwatch.Event
	var ev linkwatch.Event
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&ev.ID, &ev.IncidentID, &at, &ev.Kind, &ev.Body}, func() error {
		ev.At = at.UTC()
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan event: %w", err)
	}
	return out, nil
}

// IncidentEvidence returns the results kept as an incident's evidence.
func (db *DB) IncidentEvidence(ctx context.Context, id int64) ([]json.RawMessage, error) {
	rows, err := db.pool.Query(ctx, `SELECT result FROM incident_evidence WHERE incident_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: query evidence: %w", err)
	}
	var out []json.RawMessage
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&b}, func() error { out = append(out, json.RawMessage(b)); return nil }); err != nil {
		return nil, fmt.Errorf("postgres: scan evidence: %w", err)
	}
	return out, nil
}

// IncidentUpdates returns an incident's public updates, oldest first.
func (db *DB) IncidentUpdates(ctx context.Context, id int64) ([]linkwatch.Update, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, incident_id, status, body, created_at FROM incident_updates WHERE incident_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: query updates: %w", err)
	}
	var out []linkwatch.Update
	var u linkwatch.Update
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&u.ID, &u.IncidentID, &u.Status, &u.Body, &at}, func() error {
		u.CreatedAt = at.UTC()
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan update: %w", err)
	}
	return out, nil
}

// Outbox returns queued alerts, oldest first (the alerting dispatcher's queue).
func (db *DB) Outbox(ctx context.Context, limit int) ([]linkwatch.Alert, error) {
	rows, err := db.pool.Query(ctx, `SELECT payload FROM outbox ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: query outbox: %w", err)
	}
	var out []linkwatch.Alert
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&b}, func() error {
		var a linkwatch.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			return fmt.Errorf("decode outbox alert: %w", err)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan outbox: %w", err)
	}
	return out, nil
}

// The DB is everything the program asks of storage.
var _ storage.Store = (*DB)(nil)
