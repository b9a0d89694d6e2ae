package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"linkwatch/alerting"
	"linkwatch/incidents"
)

// newChannelLookback is how far back a channel added to the config picks up
// alerts, so adding one does not replay the whole history to it.
const newChannelLookback = time.Hour

// FanOut creates a pending delivery per channel for each outbox alert the
// channel has not seen. It is idempotent.
func (db *DB) FanOut(ctx context.Context, channels []string) error {
	if len(channels) == 0 {
		return nil
	}
	return db.update(ctx, func(tx *Tx) error {
		now := formatTime(tx.now)
		lookback := formatTime(tx.now.Add(-newChannelLookback))
		for _, ch := range channels {
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO deliveries (outbox_id, channel, next_at, updated_at)
				SELECT o.id, ?, o.created_at, ? FROM outbox o
				WHERE o.id > COALESCE((SELECT MAX(outbox_id) FROM deliveries WHERE channel = ?),
				                      (SELECT COALESCE(MAX(id), 0) FROM outbox WHERE created_at < ?))
				ORDER BY o.id`, ch, now, ch, lookback)
			if err != nil {
				return fmt.Errorf("storage: fan out alerts to %s: %w", ch, err)
			}
		}
		return nil
	})
}

// PendingDeliveries returns a channel's pending deliveries, oldest first.
func (db *DB) PendingDeliveries(ctx context.Context, channel string, limit int) ([]alerting.Delivery, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT d.id, d.channel, d.attempts, d.first_at, d.next_at, o.payload
		FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.channel = ? AND d.status = 'pending' ORDER BY d.id LIMIT ?`, channel, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: query deliveries: %w", err)
	}
	defer rows.Close()
	var out []alerting.Delivery
	for rows.Next() {
		var d alerting.Delivery
		var first sql.NullString
		var next, payload string
		if err := rows.Scan(&d.ID, &d.Channel, &d.Attempts, &first, &next, &payload); err != nil {
			return nil, fmt.Errorf("storage: scan delivery: %w", err)
		}
		if first.Valid {
			d.FirstAt = parseTime(first.String)
		}
		d.NextAt = parseTime(next)
		if err := json.Unmarshal([]byte(payload), &d.Alert); err != nil {
			return nil, fmt.Errorf("storage: decode alert of delivery %d: %w", d.ID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// MarkDelivery records an attempt's outcome.
func (db *DB) MarkDelivery(ctx context.Context, id int64, o alerting.Outcome) error {
	return db.update(ctx, func(tx *Tx) error {
		next := formatTime(o.NextAt)
		if o.NextAt.IsZero() {
			next = formatTime(tx.now)
		}
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = ?, attempts = attempts + 1, first_at = COALESCE(first_at, ?),
			next_at = ?, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?`,
			o.Status, formatTime(tx.now), next, o.HTTPStatus, o.Error, formatTime(tx.now), id)
		if err != nil {
			return fmt.Errorf("storage: mark delivery %d: %w", id, err)
		}
		return nil
	})
}

// DisableChannel switches a channel off and closes its pending deliveries.
func (db *DB) DisableChannel(ctx context.Context, channel, reason string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO channel_state (channel, disabled_at, reason) VALUES (?, ?, ?)
			ON CONFLICT (channel) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason`,
			channel, formatTime(tx.now), reason); err != nil {
			return fmt.Errorf("storage: disable channel: %w", err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'disabled', updated_at = ? WHERE channel = ? AND status = 'pending'`,
			formatTime(tx.now), channel)
		return err
	})
}

// DisabledChannels returns the switched-off channels and why.
func (db *DB) DisabledChannels(ctx context.Context) (map[string]string, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT channel, reason FROM channel_state`)
	if err != nil {
		return nil, fmt.Errorf("storage: query channel state: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, r string
		if err := rows.Scan(&c, &r); err != nil {
			return nil, err
		}
		out[c] = r
	}
	return out, rows.Err()
}

// Deliveries returns the newest deliveries, for the admin API's delivery log.
func (db *DB) Deliveries(ctx context.Context, limit int) ([]incidents.DeliveryLog, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT d.id, o.event_id, o.type, o.incident_id, d.channel, d.status, d.attempts,
			d.last_status, d.last_error, d.next_at, d.updated_at
		FROM deliveries d JOIN outbox o ON o.id = d.outbox_id ORDER BY d.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: query delivery log: %w", err)
	}
	defer rows.Close()
	var out []incidents.DeliveryLog
	for rows.Next() {
		var l incidents.DeliveryLog
		var next, upd string
		if err := rows.Scan(&l.ID, &l.EventID, &l.Type, &l.IncidentID, &l.Channel, &l.Status, &l.Attempts,
			&l.LastStatus, &l.LastError, &next, &upd); err != nil {
			return nil, fmt.Errorf("storage: scan delivery log: %w", err)
		}
		l.NextAt, l.UpdatedAt = parseTime(next), parseTime(upd)
		out = append(out, l)
	}
	return out, rows.Err()
}

// ThreadRef returns a channel's thread reference for an incident ("" if none).
func (db *DB) ThreadRef(ctx context.Context, incidentID int64, channel string) (string, error) {
	var ref string
	err := db.reader.QueryRowContext(ctx, `SELECT ref FROM channel_threads WHERE incident_id = ? AND channel = ?`, incidentID, channel).Scan(&ref)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("storage: thread ref: %w", err)
	}
	return ref, nil
}

// SetThreadRef stores a channel's thread reference for an incident.
func (db *DB) SetThreadRef(ctx context.Context, incidentID int64, channel, ref string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO channel_threads (incident_id, channel, ref) VALUES (?, ?, ?)
			ON CONFLICT (incident_id, channel) DO UPDATE SET ref = excluded.ref`, incidentID, channel, ref)
		if err != nil {
			return fmt.Errorf("storage: set thread ref: %w", err)
		}
		return nil
	})
}

// OutboxPending counts deliveries not yet sent, for metrics.
func (db *DB) OutboxPending(ctx context.Context) (int64, error) {
	var n int64
	err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE status = 'pending'`).Scan(&n)
	return n, err
}

var _ alerting.Store = (*DB)(nil)
