package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// FanOut releases the alert groups whose interval has passed into the
// outbox, then creates a pending delivery per channel for each outbox alert
// the channel has not seen, and a skipped one for each paused
// subscription (replay finds them). It is idempotent.
func (db *DB) FanOut(ctx context.Context, channels []string) error {
	return db.update(ctx, func(tx *Tx) error {
		if err := releaseDueGroups(ctx, tx); err != nil {
			return err
		}
		for _, ch := range channels {
			if id, ok := linkwatch.SubscriptionOf(ch); ok {
				// The caller's list may be stale: a subscription deleted
				// or paused since gets nothing pending (paused: skipped,
				// below).
				var live bool
				if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE id = ? AND verified_at IS NOT NULL AND NOT paused
					AND NOT EXISTS (SELECT 1 FROM channel_state WHERE channel = ?))`, id, ch).Scan(&live); err != nil {
					return fmt.Errorf("sqlite: fan out alerts to %s: %w", ch, err)
				}
				if !live {
					continue
				}
			}
			if err := fanOutTo(ctx, tx, ch, linkwatch.DeliveryPending); err != nil {
				return err
			}
		}
		paused, err := queryAll(ctx, tx, "paused subscriptions", `SELECT 'sub:' || s.id FROM subscriptions s
			WHERE s.paused AND s.verified_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM channel_state WHERE channel = 'sub:' || s.id)`, nil,
			func(rs rowScanner) (string, error) {
				var ch string
				return ch, rs.Scan(&ch)
			})
		if err != nil {
			return err
		}
		for _, ch := range paused {
			if err := fanOutTo(ctx, tx, ch, linkwatch.DeliverySkipped); err != nil {
				return err
			}
		}
		return nil
	})
}

// fanOutTo creates a delivery of status for each outbox alert the channel
// has not seen: those after its last one, after the point it was resumed
// from, and for a new channel those of the last storage.NewChannelLookback.
func fanOutTo(ctx context.Context, tx *Tx, channel string, status linkwatch.DeliveryStatus) error {
	lastError := ""
	if status == linkwatch.DeliverySkipped {
		lastError = "not sent: the subscription was paused (replay sends it)"
	}
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO deliveries (outbox_id, channel, status, last_error, next_at, updated_at)
		SELECT o.id, ?, ?, ?, o.created_at, ? FROM outbox o
		WHERE o.id > MAX(COALESCE((SELECT MAX(outbox_id) FROM deliveries WHERE channel = ?),
		                          (SELECT COALESCE(MAX(id), 0) FROM outbox WHERE created_at < ?)),
		                 COALESCE((SELECT after_outbox_id FROM channel_resume WHERE channel = ?), 0))
		ORDER BY o.id`, channel, status, lastError, formatTime(tx.now), channel, formatTime(tx.now.Add(-storage.NewChannelLookback)), channel)
	if err != nil {
		return fmt.Errorf("sqlite: fan out alerts to %s: %w", channel, err)
	}
	return nil
}

// PendingDeliveries returns a channel's pending deliveries after the
// delivery id after, oldest first.
func (db *DB) PendingDeliveries(ctx context.Context, channel string, after int64, limit int) ([]linkwatch.Delivery, error) {
	return queryAll(ctx, db.reader, "deliveries", `SELECT d.id, d.channel, d.attempts, d.first_at, d.next_at, o.payload
		FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.channel = ? AND d.status = 'pending' AND d.id > ? ORDER BY d.id LIMIT ?`, []any{channel, after, limit},
		scanDelivery)
}

// scanDelivery reads a delivery with its alert.
func scanDelivery(row rowScanner) (linkwatch.Delivery, error) {
	var d linkwatch.Delivery
	var first sql.NullString
	var next, payload string
	if err := row.Scan(&d.ID, &d.Channel, &d.Attempts, &first, &next, &payload); err != nil {
		return d, err
	}
	if first.Valid {
		d.FirstAt = parseTime(first.String)
	}
	d.NextAt = parseTime(next)
	if err := json.Unmarshal([]byte(payload), &d.Alert); err != nil {
		return d, fmt.Errorf("decode the alert of delivery %d: %w", d.ID, err)
	}
	return d, nil
}

// ClaimDeliveries claims up to limit of a channel's due deliveries for
// owner until lease has passed, oldest first, and returns them: the same
// rule as PostgreSQL's (no unexpired claim of another, no earlier delivery of the
// same incident to the channel pending), where the one writer makes each
// claim exclusive.
func (db *DB) ClaimDeliveries(ctx context.Context, channel, owner string, lease time.Duration, limit int) ([]linkwatch.Delivery, error) {
	var out []linkwatch.Delivery
	err := db.update(ctx, func(tx *Tx) error {
		now := formatTime(tx.now)
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET claimed_until = ?, claimed_by = ? WHERE id IN (
				SELECT d.id FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
				WHERE d.channel = ? AND d.status = 'pending' AND d.next_at <= ?
				AND (d.claimed_until IS NULL OR d.claimed_until <= ? OR d.claimed_by = ?)
				AND NOT EXISTS (SELECT 1 FROM deliveries e JOIN outbox eo ON eo.id = e.outbox_id
					WHERE e.channel = d.channel AND e.status = 'pending' AND e.id < d.id AND eo.incident_id = o.incident_id)
				ORDER BY d.id LIMIT ?)`, formatTime(tx.now.Add(lease)), owner, channel, now, now, owner, limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim deliveries of %s: %w", channel, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		out, err = queryAll(ctx, tx, "claimed deliveries", `SELECT d.id, d.channel, d.attempts, d.first_at, d.next_at, o.payload
			FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE d.channel = ? AND d.claimed_by = ? AND d.claimed_until = ? AND d.status = 'pending' ORDER BY d.id`,
			[]any{channel, owner, formatTime(tx.now.Add(lease))}, scanDelivery)
		return err
	})
	return out, err
}

// Followed reports whether the channel has a delivery of the incident
// before the delivery before that was not filtered nor skipped.
func (db *DB) Followed(ctx context.Context, channel string, incidentID, before int64) (bool, error) {
	var ok bool
	err := db.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.channel = ? AND o.incident_id = ? AND d.id < ? AND d.status NOT IN ('filtered', 'skipped'))`, channel, incidentID, before).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("sqlite: earlier deliveries of incident %d to %s: %w", incidentID, channel, err)
	}
	return ok, nil
}

// ReleaseClaims gives up owner's claims on deliveries still pending and
// on subscriptions' verifications.
func (db *DB) ReleaseClaims(ctx context.Context, owner string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET claimed_until = NULL, claimed_by = '' WHERE claimed_by = ? AND status = 'pending'`, owner); err != nil {
			return fmt.Errorf("sqlite: release claims of %s: %w", owner, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET verify_claimed_until = NULL, verify_claimed_by = '' WHERE verify_claimed_by = ?`, owner); err != nil {
			return fmt.Errorf("sqlite: release verification claims of %s: %w", owner, err)
		}
		return nil
	})
}

// MarkDelivery records an attempt's outcome.
func (db *DB) MarkDelivery(ctx context.Context, id int64, o linkwatch.Outcome) error {
	return db.update(ctx, func(tx *Tx) error {
		next := formatTime(o.NextAt)
		if o.NextAt.IsZero() {
			next = formatTime(tx.now)
		}
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = ?, attempts = attempts + 1, first_at = COALESCE(first_at, ?),
			next_at = ?, last_status = ?, last_error = ?, updated_at = ?, claimed_until = NULL, claimed_by = '' WHERE id = ?`,
			o.Status, formatTime(tx.now), next, o.HTTPStatus, o.Error, formatTime(tx.now), id)
		if err != nil {
			return fmt.Errorf("sqlite: mark delivery %d: %w", id, err)
		}
		return nil
	})
}

// DisableChannel switches a channel off and closes its pending deliveries.
func (db *DB) DisableChannel(ctx context.Context, channel, reason string) error {
	return db.update(ctx, func(tx *Tx) error { return disableChannel(ctx, tx, channel, reason) })
}

func disableChannel(ctx context.Context, tx *Tx, channel, reason string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO channel_state (channel, disabled_at, reason) VALUES (?, ?, ?)
		ON CONFLICT (channel) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason`,
		channel, formatTime(tx.now), reason); err != nil {
		return fmt.Errorf("sqlite: disable channel: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'disabled', updated_at = ? WHERE channel = ? AND status = 'pending'`,
		formatTime(tx.now), channel); err != nil {
		return fmt.Errorf("sqlite: disable channel: %w", err)
	}
	return nil
}

// EnableChannel switches a channel back on. It starts from the alerts made
// from now on: what it missed while off is not replayed.
func (db *DB) EnableChannel(ctx context.Context, channel string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM channel_state WHERE channel = ?`, channel); err != nil {
			return fmt.Errorf("sqlite: enable channel: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO channel_resume (channel, after_outbox_id) SELECT ?, COALESCE(MAX(id), 0) FROM outbox WHERE true
			ON CONFLICT (channel) DO UPDATE SET after_outbox_id = excluded.after_outbox_id`, channel)
		if err != nil {
			return fmt.Errorf("sqlite: enable channel: %w", err)
		}
		return nil
	})
}

// DisabledChannels returns the switched-off channels and why.
func (db *DB) DisabledChannels(ctx context.Context) (map[string]string, error) {
	states, err := db.channelState(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(states))
	for c, st := range states {
		out[c] = st.Reason
	}
	return out, nil
}

func (db *DB) channelState(ctx context.Context) (map[string]linkwatch.ChannelState, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT channel, disabled_at, reason FROM channel_state`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query channel state: %w", err)
	}
	defer rows.Close()
	out := map[string]linkwatch.ChannelState{}
	for rows.Next() {
		var st linkwatch.ChannelState
		var at string
		if err := rows.Scan(&st.Name, &at, &st.Reason); err != nil {
			return nil, fmt.Errorf("sqlite: scan channel state: %w", err)
		}
		st.DisabledAt = parseTime(at)
		out[st.Name] = st
	}
	return out, rows.Err()
}

// ChannelStates returns the state of the named channels: on or off (and
// why), and their deliveries by status.
func (db *DB) ChannelStates(ctx context.Context, names []string) ([]linkwatch.ChannelState, error) {
	off, err := db.channelState(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT channel, status, COUNT(*) FROM deliveries GROUP BY channel, status`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count deliveries: %w", err)
	}
	defer rows.Close()
	counts := map[string]map[linkwatch.DeliveryStatus]int64{}
	for rows.Next() {
		var c, st string
		var n int64
		if err := rows.Scan(&c, &st, &n); err != nil {
			return nil, fmt.Errorf("sqlite: scan delivery counts: %w", err)
		}
		if counts[c] == nil {
			counts[c] = map[linkwatch.DeliveryStatus]int64{}
		}
		counts[c][linkwatch.DeliveryStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return storage.ChannelStates(names, off, counts), nil
}

// ThreadRef returns a channel's thread reference for an incident ("" if none).
func (db *DB) ThreadRef(ctx context.Context, incidentID int64, channel string) (string, error) {
	var ref string
	err := db.reader.QueryRowContext(ctx, `SELECT ref FROM channel_threads WHERE incident_id = ? AND channel = ?`, incidentID, channel).Scan(&ref)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: thread ref: %w", err)
	}
	return ref, nil
}

// SetThreadRef stores a channel's thread reference for an incident.
func (db *DB) SetThreadRef(ctx context.Context, incidentID int64, channel, ref string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO channel_threads (incident_id, channel, ref) VALUES (?, ?, ?)
			ON CONFLICT (incident_id, channel) DO UPDATE SET ref = excluded.ref`, incidentID, channel, ref)
		if err != nil {
			return fmt.Errorf("sqlite: set thread ref: %w", err)
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
