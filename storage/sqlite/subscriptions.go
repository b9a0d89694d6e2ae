package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// subscriptionSelect reads a subscription with what other tables say of
// it: switched off by a 410 (channel_state), and the first failed attempt
// since its last delivery that was sent.
const subscriptionSelect = `SELECT s.id, s.url, s.description, s.filter, s.secret, s.previous_secret, s.previous_until,
	s.paused, s.verified_at, s.verify_due, s.verify_error, s.verify_attempts, s.verify_first_at, s.verify_next_at,
	s.created_at, s.updated_at, cs.disabled_at, COALESCE(cs.reason, ''),
	(SELECT MIN(d.first_at) FROM deliveries d WHERE d.channel = 'sub:' || s.id AND d.status IN ('pending', 'dead') AND d.attempts > 0
		AND d.id > COALESCE((SELECT MAX(e.id) FROM deliveries e WHERE e.channel = 'sub:' || s.id AND e.status = 'sent'), 0))
	FROM subscriptions s LEFT JOIN channel_state cs ON cs.channel = 'sub:' || s.id`

func scanSubscription(row rowScanner) (linkwatch.Subscription, error) {
	var s linkwatch.Subscription
	var filter, created, updated string
	var prevUntil, verified, verifyFirst, verifyNext, disabled, failing sql.NullString
	err := row.Scan(&s.ID, &s.URL, &s.Description, &filter, &s.Secret, &s.PreviousSecret, &prevUntil,
		&s.Paused, &verified, &s.VerifyDue, &s.VerifyError, &s.VerifyAttempts, &verifyFirst, &verifyNext,
		&created, &updated, &disabled, &s.DisabledReason, &failing)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(filter), &s.Filter); err != nil {
		return s, fmt.Errorf("decode the filters of subscription %d: %w", s.ID, err)
	}
	s.PreviousUntil, s.VerifiedAt = parseTime(prevUntil.String), parseTime(verified.String)
	s.VerifyFirstAt, s.VerifyNextAt = parseTime(verifyFirst.String), parseTime(verifyNext.String)
	s.DisabledAt, s.FailingSince = parseTime(disabled.String), parseTime(failing.String)
	s.CreatedAt, s.UpdatedAt = parseTime(created), parseTime(updated)
	return s, nil
}

func subscriptionTx(ctx context.Context, tx *Tx, id int64) (linkwatch.Subscription, error) {
	s, err := scanSubscription(tx.QueryRowContext(ctx, subscriptionSelect+` WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("sqlite: subscription %d: %w", id, err)
	}
	return s, nil
}

// CreateSubscription stores a new subscription, pending verification.
func (db *DB) CreateSubscription(ctx context.Context, s linkwatch.Subscription) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, func(tx *Tx) error {
		filter, err := jsonString(s.Filter)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (url, description, filter, secret, paused, verify_due, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 1, ?, ?)`, s.URL, s.Description, filter, s.Secret, s.Paused, formatTime(tx.now), formatTime(tx.now))
		if err != nil {
			return fmt.Errorf("sqlite: create subscription: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		out, err = subscriptionTx(ctx, tx, id)
		return err
	})
	return out, err
}

// Subscription returns one subscription.
func (db *DB) Subscription(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	s, err := scanSubscription(db.reader.QueryRowContext(ctx, subscriptionSelect+` WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("sqlite: subscription %d: %w", id, err)
	}
	return s, nil
}

// ListSubscriptions returns every subscription, oldest first.
func (db *DB) ListSubscriptions(ctx context.Context) ([]linkwatch.Subscription, error) {
	return queryAll(ctx, db.reader, "subscriptions", subscriptionSelect+` ORDER BY s.id`, nil, scanSubscription)
}

// resumeFromNow makes a channel start from the alerts made after now.
func resumeFromNow(ctx context.Context, tx *Tx, channel string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM channel_state WHERE channel = ?`, channel); err != nil {
		return fmt.Errorf("sqlite: resume %s: %w", channel, err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO channel_resume (channel, after_outbox_id) SELECT ?, COALESCE(MAX(id), 0) FROM outbox WHERE true
		ON CONFLICT (channel) DO UPDATE SET after_outbox_id = excluded.after_outbox_id`, channel)
	if err != nil {
		return fmt.Errorf("sqlite: resume %s: %w", channel, err)
	}
	return nil
}

// UpdateSubscription applies a patch.
func (db *DB) UpdateSubscription(ctx context.Context, id int64, p linkwatch.SubscriptionPatch) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, func(tx *Tx) error {
		cur, err := subscriptionTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.Filter != nil {
			filter, err := jsonString(*p.Filter)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET filter = ? WHERE id = ?`, filter, id); err != nil {
				return fmt.Errorf("sqlite: update subscription: %w", err)
			}
		}
		if p.Description != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET description = ? WHERE id = ?`, *p.Description, id); err != nil {
				return fmt.Errorf("sqlite: update subscription: %w", err)
			}
		}
		if p.Paused != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET paused = ? WHERE id = ?`, *p.Paused, id); err != nil {
				return fmt.Errorf("sqlite: update subscription: %w", err)
			}
			if !*p.Paused && cur.State() == linkwatch.SubscriptionPaused {
				// What was made since the last fan-out, while it was
				// paused, is recorded as skipped too: replay finds every
				// alert it missed, and the fan-out from now on the rest.
				if err := fanOutTo(ctx, tx, cur.Channel(), linkwatch.DeliverySkipped); err != nil {
					return err
				}
			}
			if !*p.Paused && (cur.Paused || !cur.DisabledAt.IsZero()) {
				if err := resumeFromNow(ctx, tx, cur.Channel()); err != nil {
					return err
				}
			}
			if !*p.Paused && !cur.DisabledAt.IsZero() && cur.VerifiedAt.IsZero() {
				// Switched off by a 410 to its verification: back on, it
				// is verified again.
				if _, err := tx.ExecContext(ctx, requestVerification, id); err != nil {
					return fmt.Errorf("sqlite: update subscription: %w", err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET updated_at = ? WHERE id = ?`, formatTime(tx.now), id); err != nil {
			return fmt.Errorf("sqlite: update subscription: %w", err)
		}
		out, err = subscriptionTx(ctx, tx, id)
		return err
	})
	return out, err
}

// DeleteSubscription removes a subscription and closes its pending deliveries.
func (db *DB) DeleteSubscription(ctx context.Context, id int64) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete subscription: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
		}
		ch := linkwatch.SubscriptionChannel(id)
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'dead', last_error = 'subscription deleted', updated_at = ?
			WHERE channel = ? AND status = 'pending'`, formatTime(tx.now), ch); err != nil {
			return fmt.Errorf("sqlite: delete subscription: %w", err)
		}
		for _, q := range []string{`DELETE FROM channel_state WHERE channel = ?`, `DELETE FROM channel_resume WHERE channel = ?`} {
			if _, err := tx.ExecContext(ctx, q, ch); err != nil {
				return fmt.Errorf("sqlite: delete subscription: %w", err)
			}
		}
		return nil
	})
}

// RotateSecret makes secret the signing secret, the old one signing too
// for incidents.SecretOverlap.
func (db *DB) RotateSecret(ctx context.Context, id int64, secret string) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET previous_secret = secret, previous_until = ?, secret = ?, updated_at = ? WHERE id = ?`,
			formatTime(tx.now.Add(linkwatch.SecretOverlap)), secret, formatTime(tx.now), id)
		if err != nil {
			return fmt.Errorf("sqlite: rotate secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
		}
		out, err = subscriptionTx(ctx, tx, id)
		return err
	})
	return out, err
}

// requestVerification makes subscription ? due for a verification now, a
// new one: attempts counted again from zero.
const requestVerification = `UPDATE subscriptions SET verify_due = 1, verify_attempts = 0, verify_first_at = NULL, verify_next_at = NULL
	WHERE id = ?`

// RequestVerification asks for a subscription.verify event to be sent.
func (db *DB) RequestVerification(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, requestVerification, id)
		if err != nil {
			return fmt.Errorf("sqlite: request verification: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET updated_at = ? WHERE id = ?`, formatTime(tx.now), id); err != nil {
			return fmt.Errorf("sqlite: request verification: %w", err)
		}
		out, err = subscriptionTx(ctx, tx, id)
		return err
	})
	return out, err
}

// ClaimVerification claims a due verification for owner until lease has
// passed: the same rule as PostgreSQL's, where the one writer makes each
// claim exclusive.
func (db *DB) ClaimVerification(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error) {
	var claimed bool
	err := db.update(ctx, func(tx *Tx) error {
		now := formatTime(tx.now)
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET verify_claimed_by = ?, verify_claimed_until = ?
			WHERE id = ? AND verify_due AND (verify_next_at IS NULL OR verify_next_at <= ?)
			AND (verify_claimed_until IS NULL OR verify_claimed_until <= ? OR verify_claimed_by = ?)`,
			owner, formatTime(tx.now.Add(lease)), id, now, now, owner)
		if err != nil {
			return fmt.Errorf("sqlite: claim verification of subscription %d: %w", id, err)
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	return claimed, err
}

// RecordVerification records a verification attempt's outcome.
func (db *DB) RecordVerification(ctx context.Context, id int64, o linkwatch.Outcome) error {
	return db.update(ctx, func(tx *Tx) error {
		cur, err := subscriptionTx(ctx, tx, id)
		if err != nil {
			return err
		}
		now := formatTime(tx.now)
		if o.Status == linkwatch.DeliverySent {
			if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET verify_due = 0, verify_error = '', verified_at = COALESCE(verified_at, ?),
				verify_attempts = 0, verify_first_at = NULL, verify_next_at = NULL,
				updated_at = ?, verify_claimed_by = '', verify_claimed_until = NULL WHERE id = ?`, now, now, id); err != nil {
				return fmt.Errorf("sqlite: record verification: %w", err)
			}
			if cur.VerifiedAt.IsZero() || !cur.DisabledAt.IsZero() {
				return resumeFromNow(ctx, tx, cur.Channel())
			}
			return nil
		}
		due, next := o.Status == linkwatch.DeliveryPending, sql.NullString{}
		if due {
			next = sql.NullString{String: formatTime(o.NextAt), Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET verify_due = ?, verify_error = ?, verify_attempts = verify_attempts + 1,
			verify_first_at = COALESCE(verify_first_at, ?), verify_next_at = ?, updated_at = ?,
			verify_claimed_by = '', verify_claimed_until = NULL WHERE id = ?`, due, o.Error, now, next, now, id); err != nil {
			return fmt.Errorf("sqlite: record verification: %w", err)
		}
		if o.Status == linkwatch.DeliveryDisabled {
			return disableChannel(ctx, tx, cur.Channel(), o.Error)
		}
		return nil
	})
}

const deliveryLogSelect = `SELECT d.id, o.event_id, o.type, o.incident_id, d.channel, d.status, d.attempts,
	d.last_status, d.last_error, d.next_at, d.updated_at, o.created_at, d.first_at, d.redeliveries
	FROM deliveries d JOIN outbox o ON o.id = d.outbox_id`

func scanDeliveryLog(row rowScanner) (linkwatch.DeliveryLog, error) {
	var l linkwatch.DeliveryLog
	var next, upd, created string
	var first sql.NullString
	err := row.Scan(&l.ID, &l.EventID, &l.Type, &l.IncidentID, &l.Channel, &l.Status, &l.Attempts,
		&l.LastStatus, &l.LastError, &next, &upd, &created, &first, &l.Redeliveries)
	l.NextAt, l.UpdatedAt, l.CreatedAt, l.FirstAt = parseTime(next), parseTime(upd), parseTime(created), parseTime(first.String)
	return l, err
}

// DeliveryLog returns deliveries newest first.
func (db *DB) DeliveryLog(ctx context.Context, q linkwatch.DeliveryQuery) ([]linkwatch.DeliveryLog, error) {
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	return queryAll(ctx, db.reader, "delivery log", deliveryLogSelect+` WHERE d.status NOT IN ('filtered', 'skipped') AND d.id < ? AND (? = '' OR d.channel = ?)
		ORDER BY d.id DESC LIMIT ?`, []any{before, q.Channel, q.Channel, q.Limit}, scanDeliveryLog)
}

// Redeliver queues a delivery again.
func (db *DB) Redeliver(ctx context.Context, id int64) (linkwatch.DeliveryLog, error) {
	var out linkwatch.DeliveryLog
	err := db.update(ctx, func(tx *Tx) error {
		cur, err := scanDeliveryLog(tx.QueryRowContext(ctx, deliveryLogSelect+` WHERE d.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !storage.InDeliveryLog(cur.Status)) {
			return fmt.Errorf("delivery %d: %w", id, linkwatch.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: delivery %d: %w", id, err)
		}
		var off int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM channel_state WHERE channel = ?`, cur.Channel).Scan(&off); err != nil {
			return fmt.Errorf("sqlite: channel state: %w", err)
		}
		if err := storage.CheckRedeliver(cur.Channel, off > 0); err != nil {
			return err
		}
		if err := requeue(ctx, tx, id); err != nil {
			return err
		}
		out, err = scanDeliveryLog(tx.QueryRowContext(ctx, deliveryLogSelect+` WHERE d.id = ?`, id))
		return err
	})
	return out, err
}

func requeue(ctx context.Context, tx *Tx, id int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', next_at = ?, first_at = NULL, updated_at = ?,
		redeliveries = redeliveries + 1 WHERE id = ?`, formatTime(tx.now), formatTime(tx.now), id)
	if err != nil {
		return fmt.Errorf("sqlite: queue delivery %d again: %w", id, err)
	}
	return nil
}

// Replay queues again the channel's deliveries of alerts made since since
// that match, in outbox order, a page at a time (storage.ReplayPage).
func (db *DB) Replay(ctx context.Context, channel string, since time.Time, limit int, match func(linkwatch.Alert) bool) (int, time.Time, error) {
	var n int
	var next time.Time
	err := db.update(ctx, func(tx *Tx) error {
		rows, err := queryAll(ctx, tx, "replay", `SELECT d.id, o.created_at, o.payload FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE d.channel = ? AND o.created_at >= ? ORDER BY o.id`, []any{channel, formatTime(since)},
			func(rs rowScanner) (storage.ReplayRow, error) {
				var r storage.ReplayRow
				var created, payload string
				if err := rs.Scan(&r.ID, &created, &payload); err != nil {
					return r, err
				}
				r.CreatedAt = parseTime(created)
				return r, json.Unmarshal([]byte(payload), &r.Alert)
			})
		if err != nil {
			return err
		}
		var ids []int64
		ids, next = storage.ReplayPage(rows, limit, match)
		for _, id := range ids {
			if err := requeue(ctx, tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, next, err
}
