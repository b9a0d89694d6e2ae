package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

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

// subscriptionLive says whether subscription $1 (channel $2) is to get
// alerts: it exists, is verified, not paused, not switched off.
const subscriptionLive = `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE id = $1 AND verified_at IS NOT NULL AND NOT paused
	AND NOT EXISTS (SELECT 1 FROM channel_state WHERE channel = $2))`

type scanner interface{ Scan(dest ...any) error }

func scanSubscription(row scanner) (linkwatch.Subscription, error) {
	var s linkwatch.Subscription
	var filter []byte
	var prevUntil, verified, verifyFirst, verifyNext, disabled, failing *time.Time
	err := row.Scan(&s.ID, &s.URL, &s.Description, &filter, &s.Secret, &s.PreviousSecret, &prevUntil,
		&s.Paused, &verified, &s.VerifyDue, &s.VerifyError, &s.VerifyAttempts, &verifyFirst, &verifyNext,
		&s.CreatedAt, &s.UpdatedAt, &disabled, &s.DisabledReason, &failing)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(filter, &s.Filter); err != nil {
		return s, fmt.Errorf("decode the filters of subscription %d: %w", s.ID, err)
	}
	s.PreviousUntil, s.VerifiedAt, s.DisabledAt, s.FailingSince = utc(prevUntil), utc(verified), utc(disabled), utc(failing)
	s.VerifyFirstAt, s.VerifyNextAt = utc(verifyFirst), utc(verifyNext)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, nil
}

func (db *DB) subscription(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, id int64) (linkwatch.Subscription, error) {
	s, err := scanSubscription(q.QueryRow(ctx, subscriptionSelect+` WHERE s.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("postgres: subscription %d: %w", id, err)
	}
	return s, nil
}

// CreateSubscription stores a new subscription, pending verification.
func (db *DB) CreateSubscription(ctx context.Context, s linkwatch.Subscription) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, func(tx *Tx) error {
		filter, err := json.Marshal(s.Filter)
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO subscriptions (url, description, filter, secret, paused, verify_due, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, true, $6, $6) RETURNING id`, s.URL, s.Description, filter, s.Secret, s.Paused, tx.now).Scan(&id); err != nil {
			return fmt.Errorf("postgres: create subscription: %w", err)
		}
		out, err = db.subscription(ctx, tx, id)
		return err
	})
	return out, err
}

// Subscription returns one subscription.
func (db *DB) Subscription(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	return db.subscription(ctx, db.pool, id)
}

// ListSubscriptions returns every subscription, oldest first.
func (db *DB) ListSubscriptions(ctx context.Context) ([]linkwatch.Subscription, error) {
	rows, err := db.pool.Query(ctx, subscriptionSelect+` ORDER BY s.id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: query subscriptions: %w", err)
	}
	defer rows.Close()
	var out []linkwatch.Subscription
	for rows.Next() {
		s, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: scan subscription: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// resumeFromNow makes a channel start from the alerts made after now,
// under the outbox lock so no alert commits between reading the last id
// and writing it down.
func resumeFromNow(ctx context.Context, tx *Tx, channel string) error {
	if err := tx.lock(ctx, lockOutbox); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM channel_state WHERE channel = $1`, channel); err != nil {
		return fmt.Errorf("postgres: resume %s: %w", channel, err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO channel_resume (channel, after_outbox_id) SELECT $1, COALESCE(MAX(id), 0) FROM outbox
		ON CONFLICT (channel) DO UPDATE SET after_outbox_id = excluded.after_outbox_id`, channel)
	if err != nil {
		return fmt.Errorf("postgres: resume %s: %w", channel, err)
	}
	return nil
}

// lockSubscription reads a subscription and locks its row until the
// transaction ends, so two replicas' changes to it take turns.
func (db *DB) lockSubscription(ctx context.Context, tx *Tx, id int64) (linkwatch.Subscription, error) {
	var one int
	if err := tx.QueryRow(ctx, `SELECT 1 FROM subscriptions WHERE id = $1 FOR UPDATE`, id).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
		return linkwatch.Subscription{}, fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
	} else if err != nil {
		return linkwatch.Subscription{}, fmt.Errorf("postgres: lock subscription %d: %w", id, err)
	}
	return db.subscription(ctx, tx, id)
}

// UpdateSubscription applies a patch.
func (db *DB) UpdateSubscription(ctx context.Context, id int64, p linkwatch.SubscriptionPatch) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, func(tx *Tx) error {
		cur, err := db.lockSubscription(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.Filter != nil {
			filter, err := json.Marshal(*p.Filter)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE subscriptions SET filter = $1 WHERE id = $2`, filter, id); err != nil {
				return fmt.Errorf("postgres: update subscription: %w", err)
			}
		}
		if p.Description != nil {
			if _, err := tx.Exec(ctx, `UPDATE subscriptions SET description = $1 WHERE id = $2`, *p.Description, id); err != nil {
				return fmt.Errorf("postgres: update subscription: %w", err)
			}
		}
		if p.Paused != nil {
			// Under the outbox lock (after the row's, as everywhere): a
			// fan-out either comes before the pause or sees it.
			if err := tx.lock(ctx, lockOutbox); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE subscriptions SET paused = $1 WHERE id = $2`, *p.Paused, id); err != nil {
				return fmt.Errorf("postgres: update subscription: %w", err)
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
				if _, err := tx.Exec(ctx, requestVerification, id); err != nil {
					return fmt.Errorf("postgres: update subscription: %w", err)
				}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET updated_at = $1 WHERE id = $2`, tx.now, id); err != nil {
			return fmt.Errorf("postgres: update subscription: %w", err)
		}
		out, err = db.subscription(ctx, tx, id)
		return err
	})
	return out, err
}

// DeleteSubscription removes a subscription and closes its pending deliveries.
func (db *DB) DeleteSubscription(ctx context.Context, id int64) error {
	return db.update(ctx, func(tx *Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM subscriptions WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("postgres: delete subscription: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
		}
		// A fan-out either commits first, and its deliveries are closed
		// below, or comes after and sees the subscription gone.
		if err := tx.lock(ctx, lockOutbox); err != nil {
			return err
		}
		ch := linkwatch.SubscriptionChannel(id)
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'dead', last_error = 'subscription deleted', updated_at = $1
			WHERE channel = $2 AND status = 'pending'`, tx.now, ch); err != nil {
			return fmt.Errorf("postgres: delete subscription: %w", err)
		}
		for _, q := range []string{`DELETE FROM channel_state WHERE channel = $1`, `DELETE FROM channel_resume WHERE channel = $1`} {
			if _, err := tx.Exec(ctx, q, ch); err != nil {
				return fmt.Errorf("postgres: delete subscription: %w", err)
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
		tag, err := tx.Exec(ctx, `UPDATE subscriptions SET previous_secret = secret, previous_until = $1, secret = $2, updated_at = $3 WHERE id = $4`,
			tx.now.Add(linkwatch.SecretOverlap), secret, tx.now, id)
		if err != nil {
			return fmt.Errorf("postgres: rotate secret: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
		}
		out, err = db.subscription(ctx, tx, id)
		return err
	})
	return out, err
}

// requestVerification makes subscription $1 due for a verification now, a
// new one: attempts counted again from zero.
const requestVerification = `UPDATE subscriptions SET verify_due = true, verify_attempts = 0, verify_first_at = NULL, verify_next_at = NULL
	WHERE id = $1`

// RequestVerification asks for a subscription.verify event to be sent.
func (db *DB) RequestVerification(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, func(tx *Tx) error {
		tag, err := tx.Exec(ctx, requestVerification, id)
		if err != nil {
			return fmt.Errorf("postgres: request verification: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET updated_at = $1 WHERE id = $2`, tx.now, id); err != nil {
			return fmt.Errorf("postgres: request verification: %w", err)
		}
		out, err = db.subscription(ctx, tx, id)
		return err
	})
	return out, err
}

// ClaimVerification claims a due verification for owner until lease has
// passed. The row's update makes it exclusive: a replica claiming at once
// waits for the other's and then finds it held.
func (db *DB) ClaimVerification(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error) {
	var claimed bool
	err := db.update(ctx, func(tx *Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE subscriptions SET verify_claimed_by = $1, verify_claimed_until = $2
			WHERE id = $3 AND verify_due AND (verify_next_at IS NULL OR verify_next_at <= $4)
			AND (verify_claimed_until IS NULL OR verify_claimed_until <= $4 OR verify_claimed_by = $1)`,
			owner, tx.now.Add(lease), id, tx.now)
		if err != nil {
			return fmt.Errorf("postgres: claim verification of subscription %d: %w", id, err)
		}
		claimed = tag.RowsAffected() == 1
		return nil
	})
	return claimed, err
}

// RecordVerification records a verification attempt's outcome.
func (db *DB) RecordVerification(ctx context.Context, id int64, o linkwatch.Outcome) error {
	return db.update(ctx, func(tx *Tx) error {
		cur, err := db.lockSubscription(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.Status == linkwatch.DeliverySent {
			if _, err := tx.Exec(ctx, `UPDATE subscriptions SET verify_due = false, verify_error = '', verified_at = COALESCE(verified_at, $1),
				verify_attempts = 0, verify_first_at = NULL, verify_next_at = NULL,
				updated_at = $1, verify_claimed_by = '', verify_claimed_until = NULL WHERE id = $2`, tx.now, id); err != nil {
				return fmt.Errorf("postgres: record verification: %w", err)
			}
			if cur.VerifiedAt.IsZero() || !cur.DisabledAt.IsZero() {
				return resumeFromNow(ctx, tx, cur.Channel())
			}
			return nil
		}
		due := o.Status == linkwatch.DeliveryPending
		var next *time.Time
		if due {
			next = &o.NextAt
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET verify_due = $1, verify_error = $2, verify_attempts = verify_attempts + 1,
			verify_first_at = COALESCE(verify_first_at, $3), verify_next_at = $4, updated_at = $3,
			verify_claimed_by = '', verify_claimed_until = NULL WHERE id = $5`, due, o.Error, tx.now, next, id); err != nil {
			return fmt.Errorf("postgres: record verification: %w", err)
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

func scanDeliveryLog(row scanner) (linkwatch.DeliveryLog, error) {
	var l linkwatch.DeliveryLog
	var first *time.Time
	err := row.Scan(&l.ID, &l.EventID, &l.Type, &l.IncidentID, &l.Channel, &l.Status, &l.Attempts,
		&l.LastStatus, &l.LastError, &l.NextAt, &l.UpdatedAt, &l.CreatedAt, &first, &l.Redeliveries)
	l.NextAt, l.UpdatedAt, l.CreatedAt, l.FirstAt = l.NextAt.UTC(), l.UpdatedAt.UTC(), l.CreatedAt.UTC(), utc(first)
	return l, err
}

// DeliveryLog returns deliveries newest first.
func (db *DB) DeliveryLog(ctx context.Context, q linkwatch.DeliveryQuery) ([]linkwatch.DeliveryLog, error) {
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, deliveryLogSelect+` WHERE d.status NOT IN ('filtered', 'skipped') AND d.id < $1 AND ($2 = '' OR d.channel = $2)
		ORDER BY d.id DESC LIMIT $3`, before, q.Channel, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: query delivery log: %w", err)
	}
	defer rows.Close()
	var out []linkwatch.DeliveryLog
	for rows.Next() {
		l, err := scanDeliveryLog(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: scan delivery log: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Redeliver queues a delivery again.
func (db *DB) Redeliver(ctx context.Context, id int64) (linkwatch.DeliveryLog, error) {
	var out linkwatch.DeliveryLog
	err := db.update(ctx, func(tx *Tx) error {
		cur, err := scanDeliveryLog(tx.QueryRow(ctx, deliveryLogSelect+` WHERE d.id = $1 FOR UPDATE OF d`, id))
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !storage.InDeliveryLog(cur.Status)) {
			return fmt.Errorf("delivery %d: %w", id, linkwatch.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: delivery %d: %w", id, err)
		}
		var off bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM channel_state WHERE channel = $1)`, cur.Channel).Scan(&off); err != nil {
			return fmt.Errorf("postgres: channel state: %w", err)
		}
		if err := storage.CheckRedeliver(cur.Channel, off); err != nil {
			return err
		}
		if err := requeue(ctx, tx, id); err != nil {
			return err
		}
		out, err = scanDeliveryLog(tx.QueryRow(ctx, deliveryLogSelect+` WHERE d.id = $1`, id))
		return err
	})
	return out, err
}

func requeue(ctx context.Context, tx *Tx, id int64) error {
	_, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_at = $1, first_at = NULL, updated_at = $1,
		redeliveries = redeliveries + 1 WHERE id = $2`, tx.now, id)
	if err != nil {
		return fmt.Errorf("postgres: queue delivery %d again: %w", id, err)
	}
	return nil
}

// Replay queues again the channel's deliveries of alerts made since since
// that match, in outbox order, a page at a time (storage.ReplayPage).
func (db *DB) Replay(ctx context.Context, channel string, since time.Time, limit int, match func(linkwatch.Alert) bool) (int, time.Time, error) {
	var n int
	var next time.Time
	err := db.update(ctx, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT d.id, o.created_at, o.payload FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE d.channel = $1 AND o.created_at >= $2 ORDER BY o.id FOR UPDATE OF d`, channel, since)
		if err != nil {
			return fmt.Errorf("postgres: query replay: %w", err)
		}
		var list []storage.ReplayRow
		var r storage.ReplayRow
		var payload []byte
		_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.CreatedAt, &payload}, func() error {
			r.CreatedAt, r.Alert = r.CreatedAt.UTC(), linkwatch.Alert{}
			if err := json.Unmarshal(payload, &r.Alert); err != nil {
				return fmt.Errorf("decode the alert of delivery %d: %w", r.ID, err)
			}
			list = append(list, r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres: query replay: %w", err)
		}
		var ids []int64
		ids, next = storage.ReplayPage(list, limit, match)
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
