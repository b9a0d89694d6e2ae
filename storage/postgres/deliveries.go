package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage"
)

// FanOut releases the alert groups whose interval has passed into the
// outbox, then creates a pending delivery per channel for each outbox alert
// the channel has not seen, and a skipped one for each paused
// subscription (replay finds them). It is idempotent, and replicas running
// it at once take turns under the outbox lock.
func (db *DB) FanOut(ctx context.Context, channels []string) error {
	return db.update(ctx, func(tx *Tx) error {
		if err := tx.lock(ctx, lockOutbox); err != nil {
			return err
		}
		if err := releaseDueGroups(ctx, tx); err != nil {
			return err
		}
		for _, ch := range channels {
			if id, ok := linkwatch.SubscriptionOf(ch); ok {
				// Read before the outbox lock was taken, the caller's list
				// may be stale: a subscription deleted or paused since
				// (both take the lock) gets nothing pending (paused:
				// skipped, below).
				var live bool
				if err := tx.QueryRow(ctx, subscriptionLive, id, ch).Scan(&live); err != nil {
					return fmt.Errorf("postgres: fan out alerts to %s: %w", ch, err)
				}
				if !live {
					continue
				}
			}
			if err := fanOutTo(ctx, tx, ch, linkwatch.DeliveryPending); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT 'sub:' || s.id FROM subscriptions s
			WHERE s.paused AND s.verified_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM channel_state WHERE channel = 'sub:' || s.id)`)
		if err != nil {
			return fmt.Errorf("postgres: query paused subscriptions: %w", err)
		}
		paused, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("postgres: query paused subscriptions: %w", err)
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
// The caller holds the outbox lock.
func fanOutTo(ctx context.Context, tx *Tx, channel string, status linkwatch.DeliveryStatus) error {
	lastError := ""
	if status == linkwatch.DeliverySkipped {
		lastError = "not sent: the subscription was paused (replay sends it)"
	}
	_, err := tx.Exec(ctx, `INSERT INTO deliveries (outbox_id, channel, status, last_error, next_at, updated_at)
		SELECT o.id, $1, $2, $3, o.created_at, $4 FROM outbox o
		WHERE o.id > GREATEST(COALESCE((SELECT MAX(outbox_id) FROM deliveries WHERE channel = $1),
		                               (SELECT COALESCE(MAX(id), 0) FROM outbox WHERE created_at < $5)),
		                      COALESCE((SELECT after_outbox_id FROM channel_resume WHERE channel = $1), 0))
		ORDER BY o.id
		ON CONFLICT (outbox_id, channel) DO NOTHING`, channel, status, lastError, tx.now, tx.now.Add(-storage.NewChannelLookback))
	if err != nil {
		return fmt.Errorf("postgres: fan out alerts to %s: %w", channel, err)
	}
	return nil
}

// PendingDeliveries returns a channel's pending deliveries after the
// delivery id after, oldest first.
func (db *DB) PendingDeliveries(ctx context.Context, channel string, after int64, limit int) ([]linkwatch.Delivery, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.channel, d.attempts, d.first_at, d.next_at, o.payload
		FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.channel = $1 AND d.status = 'pending' AND d.id > $2 ORDER BY d.id LIMIT $3`, channel, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: query deliveries: %w", err)
	}
	return scanDeliveries(rows)
}

// scanDeliveries reads deliveries with their alerts.
func scanDeliveries(rows pgx.Rows) ([]linkwatch.Delivery, error) {
	var out []linkwatch.Delivery
	var (
		d       linkwatch.Delivery
		first   *time.Time
		next    time.Time
		payload []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&d.ID, &d.Channel, &d.Attempts, &first, &next, &payload}, func() error {
		d.FirstAt, d.NextAt, d.Alert = utc(first), next.UTC(), linkwatch.Alert{}
		if err := json.Unmarshal(payload, &d.Alert); err != nil {
			return fmt.Errorf("decode alert of delivery %d: %w", d.ID, err)
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan delivery: %w", err)
	}
	return out, nil
}

// ClaimDeliveries claims up to limit of a channel's due deliveries for
// owner until lease has passed, oldest first, and returns them. A delivery
// is claimable when no other dispatcher holds an unexpired claim on it and no
// earlier delivery of the same incident to the channel is still pending,
// so an incident's alerts go out in order, one at a time, whichever
// replica sends them. Replicas claiming at once skip each other's rows
// (FOR UPDATE SKIP LOCKED): each delivery is claimed by one.
func (db *DB) ClaimDeliveries(ctx context.Context, channel, owner string, lease time.Duration, limit int) ([]linkwatch.Delivery, error) {
	var out []linkwatch.Delivery
	err := db.update(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `WITH c AS (
				SELECT d.id FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
				WHERE d.channel = $1 AND d.status = 'pending' AND d.next_at <= $2
				AND (d.claimed_until IS NULL OR d.claimed_until <= $2 OR d.claimed_by = $5)
				AND NOT EXISTS (SELECT 1 FROM deliveries e JOIN outbox eo ON eo.id = e.outbox_id
					WHERE e.channel = d.channel AND e.status = 'pending' AND e.id < d.id AND eo.incident_id = o.incident_id)
				ORDER BY d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED)
			UPDATE deliveries d SET claimed_until = $4, claimed_by = $5 FROM c, outbox o
			WHERE d.id = c.id AND o.id = d.outbox_id
			RETURNING d.id, d.channel, d.attempts, d.first_at, d.next_at, o.payload`,
			channel, tx.now, limit, tx.now.Add(lease), owner)
		if err != nil {
			return fmt.Errorf("postgres: claim deliveries of %s: %w", channel, err)
		}
		out, err = scanDeliveries(rows)
		return err
	})
	slices.SortFunc(out, func(a, b linkwatch.Delivery) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// Followed reports whether the channel has a delivery of the incident
// before the delivery before that was not filtered nor skipped.
func (db *DB) Followed(ctx context.Context, channel string, incidentID, before int64) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.channel = $1 AND o.incident_id = $2 AND d.id < $3 AND d.status NOT IN ('filtered', 'skipped'))`, channel, incidentID, before).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: earlier deliveries of incident %d to %s: %w", incidentID, channel, err)
	}
	return ok, nil
}

// ReleaseClaims gives up owner's claims on deliveries still pending and
// on subscriptions' verifications.
func (db *DB) ReleaseClaims(ctx context.Context, owner string) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET claimed_until = NULL, claimed_by = '' WHERE claimed_by = $1 AND status = 'pending'`, owner); err != nil {
			return fmt.Errorf("postgres: release claims of %s: %w", owner, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET verify_claimed_until = NULL, verify_claimed_by = '' WHERE verify_claimed_by = $1`, owner); err != nil {
			return fmt.Errorf("postgres: release verification claims of %s: %w", owner, err)
		}
		return nil
	})
}

// MarkDelivery records an attempt's outcome.
func (db *DB) MarkDelivery(ctx context.Context, id int64, o linkwatch.Outcome) error {
	return db.update(ctx, func(tx *Tx) error {
		next := o.NextAt.UTC()
		if o.NextAt.IsZero() {
			next = tx.now
		}
		_, err := tx.Exec(ctx, `UPDATE deliveries SET status = $1, attempts = attempts + 1, first_at = COALESCE(first_at, $2),
			next_at = $3, last_status = $4, last_error = $5, updated_at = $2, claimed_until = NULL, claimed_by = '' WHERE id = $6`,
			o.Status, tx.now, next, o.HTTPStatus, o.Error, id)
		if err != nil {
			return fmt.Errorf("postgres: mark delivery %d: %w", id, err)
		}
		return nil
	})
}

// DisableChannel switches a channel off and closes its pending deliveries.
func (db *DB) DisableChannel(ctx context.Context, channel, reason string) error {
	return db.update(ctx, func(tx *Tx) error { return disableChannel(ctx, tx, channel, reason) })
}

func disableChannel(ctx context.Context, tx *Tx, channel, reason string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO channel_state (channel, disabled_at, reason) VALUES ($1, $2, $3)
		ON CONFLICT (channel) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason`,
		channel, tx.now, reason); err != nil {
		return fmt.Errorf("postgres: disable channel: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'disabled', updated_at = $1 WHERE channel = $2 AND status = 'pending'`,
		tx.now, channel); err != nil {
		return fmt.Errorf("postgres: disable channel: %w", err)
	}
	return nil
}

// EnableChannel switches a channel back on. It starts from the alerts made
// from now on: what it missed while off is not replayed. The outbox lock
// makes "now" exact: no alert commits between reading the last id and
// writing it down.
func (db *DB) EnableChannel(ctx context.Context, channel string) error {
	return db.update(ctx, func(tx *Tx) error {
		if err := tx.lock(ctx, lockOutbox); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM channel_state WHERE channel = $1`, channel); err != nil {
			return fmt.Errorf("postgres: enable channel: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO channel_resume (channel, after_outbox_id) SELECT $1, COALESCE(MAX(id), 0) FROM outbox
			ON CONFLICT (channel) DO UPDATE SET after_outbox_id = excluded.after_outbox_id`, channel)
		if err != nil {
			return fmt.Errorf("postgres: enable channel: %w", err)
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
	rows, err := db.pool.Query(ctx, `SELECT channel, disabled_at, reason FROM channel_state`)
	if err != nil {
		return nil, fmt.Errorf("postgres: query channel state: %w", err)
	}
	out := map[string]linkwatch.ChannelState{}
	var st linkwatch.ChannelState
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&st.Name, &at, &st.Reason}, func() error {
		st.DisabledAt = at.UTC()
		out[st.Name] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan channel state: %w", err)
	}
	return out, nil
}

// ChannelStates returns the state of the named channels: on or off (and
// why), and their deliveries by status.
func (db *DB) ChannelStates(ctx context.Context, names []string) ([]linkwatch.ChannelState, error) {
	off, err := db.channelState(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT channel, status, COUNT(*) FROM deliveries GROUP BY channel, status`)
	if err != nil {
		return nil, fmt.Errorf("postgres: count deliveries: %w", err)
	}
	counts := map[string]map[linkwatch.DeliveryStatus]int64{}
	var c, st string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&c, &st, &n}, func() error {
		if counts[c] == nil {
			counts[c] = map[linkwatch.DeliveryStatus]int64{}
		}
		counts[c][linkwatch.DeliveryStatus(st)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan delivery counts: %w", err)
	}
	return storage.ChannelStates(names, off, counts), nil
}

// ThreadRef returns a channel's thread reference for an incident ("" if none).
func (db *DB) ThreadRef(ctx context.Context, incidentID int64, channel string) (string, error) {
	var ref string
	err := db.pool.QueryRow(ctx, `SELECT ref FROM channel_threads WHERE incident_id = $1 AND channel = $2`, incidentID, channel).Scan(&ref)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: thread ref: %w", err)
	}
	return ref, nil
}

// SetThreadRef stores a channel's thread reference for an incident.
func (db *DB) SetThreadRef(ctx context.Context, incidentID int64, channel, ref string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO channel_threads (incident_id, channel, ref) VALUES ($1, $2, $3)
			ON CONFLICT (incident_id, channel) DO UPDATE SET ref = excluded.ref`, incidentID, channel, ref)
		if err != nil {
			return fmt.Errorf("postgres: set thread ref: %w", err)
		}
		return nil
	})
}

// OutboxPending counts deliveries not yet sent, for metrics.
func (db *DB) OutboxPending(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM deliveries WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count pending deliveries: %w", err)
	}
	return n, nil
}
