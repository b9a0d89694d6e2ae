package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

const incidentColumns = `id, key, kind, title, cause, summary, status, impact, flapping, host, targets, affected,
	started_at, updated_at, alerts_suppressed, acknowledged_at, acknowledged_by, resolved_at, postmortem, version`

func scanIncident(row scanner) (linkwatch.Incident, error) {
	var inc linkwatch.Incident
	err := row.Scan(&inc.ID, &inc.Key, &inc.Kind, &inc.Title, &inc.Cause, &inc.Summary, &inc.Status, &inc.Impact,
		&inc.Flapping, &inc.Host, jsonOf(&inc.Targets), jsonOf(&inc.Affected), at(&inc.StartedAt), at(&inc.UpdatedAt),
		&inc.AlertsSuppressed, at(&inc.AcknowledgedAt), &inc.AcknowledgedBy, at(&inc.ResolvedAt), jsonOf(&inc.Postmortem), &inc.Version)
	return inc, err
}

func (db *DB) incidents(ctx context.Context, where string, args ...any) ([]linkwatch.Incident, error) {
	return read(ctx, db, "read incidents", `SELECT `+incidentColumns+` FROM incidents `+where, args, scanIncident)
}

// OpenIncidents returns every unresolved incident.
func (db *DB) OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error) {
	return db.incidents(ctx, `WHERE resolved_at IS NULL ORDER BY id`)
}

// OpenIncidentsOnHost returns the open incidents of one host.
func (db *DB) OpenIncidentsOnHost(ctx context.Context, host string) ([]linkwatch.Incident, error) {
	return db.incidents(ctx, `WHERE resolved_at IS NULL AND host = $1 ORDER BY id`, host)
}

// ListIncidents returns incidents newest first.
func (db *DB) ListIncidents(ctx context.Context, f linkwatch.IncidentQuery) ([]linkwatch.Incident, error) {
	var kinds []string
	for _, k := range linkwatch.InternalKinds() {
		kinds = append(kinds, string(k))
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	// The page is in the incident's affected links, JSON each database
	// spells its own way: read every incident the rest selects, and keep
	// those affecting the page.
	limit := f.Limit
	if f.Page != "" {
		limit = math.MaxInt32
	}
	list, err := db.incidents(ctx, `WHERE started_at >= $1 AND ($2 OR (resolved_at IS NULL) = $3) AND ($4 OR (kind = ANY($5)) = $6)
		AND ($7 = '' OR cause = $7) ORDER BY started_at DESC, id DESC LIMIT $8`,
		f.Since, f.Open == nil, f.Open != nil && *f.Open, f.Internal == nil, kinds, f.Internal != nil && *f.Internal, string(f.Cause), limit)
	if f.Page == "" || err != nil {
		return list, err
	}
	list = slices.DeleteFunc(list, func(inc linkwatch.Incident) bool { return !inc.Affects(f.Page) })
	return list[:min(len(list), f.Limit)], nil
}

// Incident returns one incident.
func (db *DB) Incident(ctx context.Context, id int64) (linkwatch.Incident, error) {
	inc, err := incidentIn(ctx, db.read, id, "")
	return inc, db.wrap("read incident", err)
}

// incidentIn reads an incident through r; lock is "FOR UPDATE" in a write
// transaction that changes it, so two replicas' changes take turns.
func incidentIn(ctx context.Context, r runner, id int64, lock string) (linkwatch.Incident, error) {
	inc, err := scanIncident(r.row(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1 `+lock, id))
	return inc, missing(err, fmt.Errorf("incident %d: %w", id, linkwatch.ErrNotFound))
}

// Record writes an incident change, its events, evidence, public update
// and alert in one transaction, as incidents decides (Change.Over,
// Change.OutboxAlert, Group). One with an alert takes the outbox lock
// first, before any row lock, so it cannot deadlock with the fan-out.
func (db *DB) Record(ctx context.Context, c incidents.Change) (linkwatch.Incident, error) {
	var saved linkwatch.Incident
	err := db.update(ctx, "record incident "+c.Incident.Key, func(tx *Tx) error {
		if c.Alert != nil {
			if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
				return err
			}
		}
		var err error
		saved, err = db.record(ctx, tx, c)
		return err
	})
	return saved, err
}

// incidentRow is what Record writes of an incident, in the order of
// incidentWrite's columns.
func incidentRow(inc linkwatch.Incident) []any {
	return []any{inc.Key, string(inc.Kind), inc.Title, string(inc.Cause), inc.Summary, string(inc.Status), string(inc.Impact),
		inc.Flapping, inc.Host, JSON{nonNil(inc.Targets)}, JSON{nonNil(inc.Affected)}, inc.StartedAt, inc.UpdatedAt,
		inc.AlertsSuppressed, nullTime(inc.AcknowledgedAt), inc.AcknowledgedBy, nullTime(inc.ResolvedAt), JSON{inc.Postmortem}, inc.Version}
}

const incidentWrite = `key, kind, title, cause, summary, status, impact, flapping, host, targets, affected,
	started_at, updated_at, alerts_suppressed, acknowledged_at, acknowledged_by, resolved_at, postmortem, version`

func (db *DB) record(ctx context.Context, tx *Tx, c incidents.Change) (linkwatch.Incident, error) {
	inc := c.Incident
	if inc.ID == 0 {
		inc.Version = 0
		err := tx.row(ctx, `INSERT INTO incidents (`+incidentWrite+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
			$11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id`, incidentRow(inc)...).Scan(&inc.ID)
		if db.d.IsUnique(err) { // the one unique key an insert can break: another replica opened it first
			return inc, fmt.Errorf("incident %s is already open: %w", inc.Key, linkwatch.ErrConflict)
		}
		if err != nil {
			return inc, err
		}
	} else {
		cur, err := incidentIn(ctx, tx.runner, inc.ID, "FOR UPDATE")
		if err != nil {
			return inc, err
		}
		if inc, err = c.Over(cur); err != nil {
			return inc, err
		}
		tx.Exec(ctx, `UPDATE incidents SET (`+incidentWrite+`) = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
			$11, $12, $13, $14, $15, $16, $17, $18, $19) WHERE id = $20`, append(incidentRow(inc), inc.ID)...)
	}
	for _, ev := range c.Events {
		addEvent(ctx, tx, inc.ID, ev.At, ev.Kind, ev.Body)
	}
	for _, t := range c.Ends {
		writeEnd(ctx, tx, t, inc.ResolvedAt)
	}
	for _, r := range c.Evidence {
		tx.Exec(ctx, `INSERT INTO incident_evidence (incident_id, result) VALUES ($1, $2)`, inc.ID, JSON{r})
	}
	var update *linkwatch.Update
	if c.Update != nil {
		u := linkwatch.Update{IncidentID: inc.ID, Status: c.Update.Status, Body: c.Update.Body, CreatedAt: tx.now}
		if err := tx.row(ctx, `INSERT INTO incident_updates (incident_id, status, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			inc.ID, string(u.Status), u.Body, u.CreatedAt).Scan(&u.ID); err != nil {
			return inc, err
		}
		*c.Update, update = u, &u // the caller learns the update's id
	}
	if a := c.OutboxAlert(inc, update, tx.now); a != nil {
		return inc, enqueueAlert(ctx, tx, *a, c.GroupUntil)
	}
	return inc, nil
}

func addEvent(ctx context.Context, tx *Tx, id int64, at time.Time, kind linkwatch.EventKind, body string) {
	tx.Exec(ctx, `INSERT INTO incident_events (incident_id, at, kind, body) VALUES ($1, $2, $3, $4)`, id, at, string(kind), body)
}

// enqueueAlert puts an alert in the outbox, or holds it in its incident's
// alert group, as incidents.Group decides over the group's held alert.
// The caller holds the outbox lock.
func enqueueAlert(ctx context.Context, tx *Tx, a linkwatch.Alert, until time.Time) error {
	var h, held = incidents.HeldAlert{}, (*incidents.HeldAlert)(nil)
	switch err := tx.row(ctx, `SELECT payload, due_at FROM alert_groups WHERE incident_id = $1 FOR UPDATE`, a.IncidentID).Scan(jsonOf(&h.Alert), at(&h.Due)); {
	case err == nil:
		held = &h
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	g := incidents.Group(held, a, until)
	for _, a := range g.Send {
		insertOutbox(ctx, tx, a)
	}
	switch {
	case g.Hold != nil:
		tx.Exec(ctx, `INSERT INTO alert_groups (incident_id, reason, payload, due_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (incident_id) DO UPDATE SET reason = excluded.reason, payload = excluded.payload, due_at = excluded.due_at`,
			a.IncidentID, g.Hold.Alert.Reason, JSON{g.Hold.Alert}, g.Hold.Due)
	case held != nil:
		tx.Exec(ctx, `DELETE FROM alert_groups WHERE incident_id = $1`, a.IncidentID)
	}
	return nil
}

// releaseDueGroups moves every held alert whose group interval has passed
// into the outbox, oldest first. The caller holds the outbox lock.
func releaseDueGroups(ctx context.Context, tx *Tx) error {
	due, err := all(ctx, tx.runner, `SELECT payload FROM alert_groups WHERE due_at <= $1 ORDER BY due_at, incident_id FOR UPDATE`, []any{tx.now},
		func(row scanner) (a linkwatch.Alert, err error) { return a, row.Scan(jsonOf(&a)) })
	for _, a := range due {
		insertOutbox(ctx, tx, a)
		tx.Exec(ctx, `DELETE FROM alert_groups WHERE incident_id = $1`, a.IncidentID)
	}
	return err
}

// insertOutbox writes an alert to the outbox. The caller holds the outbox
// lock (see LockOutbox).
func insertOutbox(ctx context.Context, tx *Tx, a linkwatch.Alert) {
	tx.Exec(ctx, `INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		a.EventID, string(a.Type), a.IncidentID, JSON{a}, a.CreatedAt)
}

// IncidentEvents returns an incident's timeline, oldest first.
func (db *DB) IncidentEvents(ctx context.Context, id int64) ([]linkwatch.Event, error) {
	return read(ctx, db, "read events", `SELECT id, incident_id, at, kind, body FROM incident_events WHERE incident_id = $1 ORDER BY id`, []any{id},
		func(row scanner) (ev linkwatch.Event, err error) {
			return ev, row.Scan(&ev.ID, &ev.IncidentID, at(&ev.At), &ev.Kind, &ev.Body)
		})
}

// IncidentEvidence returns the results kept as an incident's evidence.
func (db *DB) IncidentEvidence(ctx context.Context, id int64) ([]json.RawMessage, error) {
	return read(ctx, db, "read evidence", `SELECT result FROM incident_evidence WHERE incident_id = $1 ORDER BY id`, []any{id},
		func(row scanner) (r json.RawMessage, err error) { return r, row.Scan(jsonOf(&r)) })
}

// IncidentUpdates returns an incident's public updates, oldest first.
func (db *DB) IncidentUpdates(ctx context.Context, id int64) ([]linkwatch.Update, error) {
	return read(ctx, db, "read updates", `SELECT id, incident_id, status, body, created_at FROM incident_updates WHERE incident_id = $1 ORDER BY id`, []any{id},
		func(row scanner) (u linkwatch.Update, err error) {
			return u, row.Scan(&u.ID, &u.IncidentID, &u.Status, &u.Body, at(&u.CreatedAt))
		})
}

// Outbox returns queued alerts, oldest first (the alerting dispatcher's queue).
func (db *DB) Outbox(ctx context.Context, limit int) ([]linkwatch.Alert, error) {
	return read(ctx, db, "read outbox", `SELECT payload FROM outbox ORDER BY id LIMIT $1`, []any{limit},
		func(row scanner) (a linkwatch.Alert, err error) { return a, row.Scan(jsonOf(&a)) })
}

// EditPostmortem replaces an incident's postmortem notes. Publishing the
// postmortem of a resolved incident for the first time writes, in the
// same transaction, its postmortem alert for the status page's email
// subscribers, once per incident (its event id): publishing again, or
// editing what is published, sends nothing; nor does publishing one the
// resolved alert already carried. One published while the incident is
// open reaches them with its resolution.
func (db *DB) EditPostmortem(ctx context.Context, id int64, pm linkwatch.Postmortem) (linkwatch.Incident, error) {
	var out linkwatch.Incident
	err := db.update(ctx, "edit postmortem", func(tx *Tx) error {
		if pm.Published { // the outbox lock before any row lock, as Record
			if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
				return err
			}
		}
		cur, err := incidentIn(ctx, tx.runner, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		pm.UpdatedAt = tx.now
		tx.Exec(ctx, `UPDATE incidents SET postmortem = $1, updated_at = $2 WHERE id = $3`, JSON{pm}, tx.now, id)
		addEvent(ctx, tx, id, tx.now, linkwatch.EventPostmortem, "postmortem notes edited")
		if out, err = incidentIn(ctx, tx.runner, id, ""); err != nil {
			return err
		}
		if !pm.Published || cur.Postmortem.Published || out.Open() {
			return nil
		}
		a := linkwatch.PostmortemAlert(out, tx.now)
		var sent bool
		if err := tx.row(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE event_id = $1)`, a.EventID).Scan(&sent); err != nil || sent {
			return err
		}
		// The resolution's alert carries a postmortem published before it.
		// No index serves this read: it runs only when an operator
		// publishes a resolved incident's draft that was never mailed.
		carried, err := all(ctx, tx.runner, `SELECT payload FROM outbox WHERE incident_id = $1 AND type = $2`,
			[]any{id, string(linkwatch.AlertResolved)}, func(row scanner) (a linkwatch.Alert, err error) { return a, row.Scan(jsonOf(&a)) })
		if err != nil || slices.ContainsFunc(carried, func(r linkwatch.Alert) bool { return r.Incident.Postmortem.Published }) {
			return err
		}
		tx.Exec(ctx, `INSERT INTO outbox (event_id, type, incident_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
			a.EventID, string(a.Type), a.IncidentID, JSON{a}, a.CreatedAt)
		return nil
	})
	return out, err
}

// FeedIDs returns the feed's UUID and each given incident's, made once by
// the database (a column default, a trigger) and never changed, so feed
// readers keep their read state whatever happens to the hub's URL.
func (db *DB) FeedIDs(ctx context.Context, incidentIDs []int64) (string, map[int64]string, error) {
	var feed string
	if err := db.read.row(ctx, `SELECT value FROM site WHERE key = 'feed_id'`).Scan(&feed); err != nil {
		return "", nil, db.wrap("read feed id", err)
	}
	out := make(map[int64]string, len(incidentIDs))
	err := each(ctx, db.read, `SELECT id, public_id FROM incidents WHERE id = ANY($1)`, []any{nonNil(incidentIDs)}, func(row scanner) error {
		var id int64
		var pub string
		err := row.Scan(&id, &pub)
		out[id] = pub
		return err
	})
	if err != nil {
		return "", nil, db.wrap("read incident public ids", err)
	}
	var lost []string
	for _, id := range incidentIDs {
		if _, ok := out[id]; !ok {
			lost = append(lost, fmt.Sprint(id))
		}
	}
	if lost != nil {
		return "", nil, fmt.Errorf("incident %s has no public id: %w", strings.Join(lost, ", "), linkwatch.ErrNotFound)
	}
	return feed, out, nil
}
