package storage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"linkwatch"
)

// ReplayRow is one of a channel's deliveries as Replay reads it: its
// alert and the alert's time as stored in the outbox.
type ReplayRow struct {
	ID        int64
	CreatedAt time.Time // the outbox's created_at: what since is compared with
	Alert     linkwatch.Alert
}

// ReplayPage picks from rows, in outbox order, the deliveries a replay
// queues: those match lets through, at most limit. next is zero when it
// picked every match, else the time the next page starts from. A page
// never ends between two alerts of one time (one transaction's): since is
// inclusive, so the next page would send the earlier ones again, and a
// later time would pass over the others. A page of one time's alerts only
// takes all of them, beyond limit.
func ReplayPage(rows []ReplayRow, limit int, match func(linkwatch.Alert) bool) (ids []int64, next time.Time) {
	var matched []ReplayRow
	for _, r := range rows {
		if match(r.Alert) {
			matched = append(matched, r)
		}
	}
	if len(matched) <= limit {
		return replayIDs(matched), time.Time{}
	}
	end := limit // matched[end] is the first left to the next page
	for end > 0 && matched[end-1].CreatedAt.Equal(matched[end].CreatedAt) {
		end--
	}
	if end == 0 { // one time fills the page: all of its alerts
		for end = limit; end < len(matched) && matched[end].CreatedAt.Equal(matched[0].CreatedAt); end++ {
		}
		if end == len(matched) {
			return replayIDs(matched), time.Time{}
		}
	}
	return replayIDs(matched[:end]), matched[end].CreatedAt
}

func replayIDs(rows []ReplayRow) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// InDeliveryLog reports whether a delivery of this status is in the
// delivery log, and so can be queued again by itself: not one its filters
// left out, nor one skipped while its subscription was paused (replay
// queues those).
func InDeliveryLog(status linkwatch.DeliveryStatus) bool {
	return !slices.Contains(notInLog, string(status))
}

// notInLog are the statuses of the deliveries left out of the delivery log.
var notInLog = []string{string(linkwatch.DeliveryFiltered), string(linkwatch.DeliverySkipped)}

// selectSubscriptions reads subscriptions with what other tables say of
// them: switched off (channel_state), and the first failed attempt since
// their last delivery that was sent. Its parameters are subscriptionArgs;
// where's start at $5.
func selectSubscriptions(where string) string {
	return `SELECT s.id, s.url, s.description, s.filter, s.secret, s.previous_secret, s.previous_until,
		s.paused, s.verified_at, s.verify_due, s.verify_error, s.verify_attempts, s.verify_first_at, s.verify_next_at,
		s.created_at, s.updated_at, cs.disabled_at, COALESCE(cs.reason, ''),
		(SELECT MIN(d.first_at) FROM deliveries d WHERE d.channel = CAST($1 AS TEXT) || s.id AND d.status IN ($2, $3) AND d.attempts > 0
			AND d.id > COALESCE((SELECT MAX(e.id) FROM deliveries e WHERE e.channel = CAST($1 AS TEXT) || s.id AND e.status = $4), 0))
		FROM subscriptions s LEFT JOIN channel_state cs ON cs.channel = CAST($1 AS TEXT) || s.id ` + where
}

func subscriptionArgs(more ...any) []any {
	return append([]any{linkwatch.SubscriptionChannelPrefix, linkwatch.DeliveryPending, linkwatch.DeliveryDead, linkwatch.DeliverySent}, more...)
}

func scanSubscription(row scanner) (s linkwatch.Subscription, err error) {
	return s, row.Scan(&s.ID, &s.URL, &s.Description, jsonOf(&s.Filter), &s.Secret, &s.PreviousSecret, at(&s.PreviousUntil),
		&s.Paused, at(&s.VerifiedAt), &s.VerifyDue, &s.VerifyError, &s.VerifyAttempts, at(&s.VerifyFirstAt), at(&s.VerifyNextAt),
		at(&s.CreatedAt), at(&s.UpdatedAt), at(&s.DisabledAt), &s.DisabledReason, at(&s.FailingSince))
}

// subscriptionIn reads a subscription through r; lock is "FOR UPDATE OF
// s" in a write transaction that changes it, so two replicas' changes take
// turns.
func subscriptionIn(ctx context.Context, r runner, id int64, lock string) (linkwatch.Subscription, error) {
	s, err := scanSubscription(r.row(ctx, selectSubscriptions(`WHERE s.id = $5 `+lock), subscriptionArgs(id)...))
	return s, missing(err, fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound))
}

// CreateSubscription stores a new subscription, pending verification.
func (db *DB) CreateSubscription(ctx context.Context, s linkwatch.Subscription) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, "create subscription", func(tx *Tx) error {
		var id int64
		if err := tx.row(ctx, `INSERT INTO subscriptions (url, description, filter, secret, paused, verify_due, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, true, $6, $6) RETURNING id`, s.URL, s.Description, JSON{s.Filter}, s.Secret, s.Paused, tx.now).Scan(&id); err != nil {
			return err
		}
		var err error
		out, err = subscriptionIn(ctx, tx.runner, id, "")
		return err
	})
	return out, err
}

// Subscription returns one subscription.
func (db *DB) Subscription(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	s, err := subscriptionIn(ctx, db.read, id, "")
	return s, db.wrap("read subscription", err)
}

// ListSubscriptions returns every subscription, oldest first.
func (db *DB) ListSubscriptions(ctx context.Context) ([]linkwatch.Subscription, error) {
	return read(ctx, db, "read subscriptions", selectSubscriptions(`ORDER BY s.id`), subscriptionArgs(), scanSubscription)
}

// changeSubscription runs fn in a transaction on subscription id, read and
// locked, and returns the subscription as fn left it.
func (db *DB) changeSubscription(ctx context.Context, what string, id int64, fn func(tx *Tx, cur linkwatch.Subscription) error) (linkwatch.Subscription, error) {
	var out linkwatch.Subscription
	err := db.update(ctx, what, func(tx *Tx) error {
		cur, err := subscriptionIn(ctx, tx.runner, id, "FOR UPDATE OF s")
		if err == nil {
			err = fn(tx, cur)
		}
		if err == nil && tx.err == nil {
			out, err = subscriptionIn(ctx, tx.runner, id, "")
		}
		return err
	})
	return out, err
}

// UpdateSubscription applies a patch. Resuming (paused false) a paused
// or disabled subscription starts it from the alerts made from now on;
// those made while it was paused are its skipped deliveries (FanOut makes
// them), which Replay queues.
func (db *DB) UpdateSubscription(ctx context.Context, id int64, p linkwatch.SubscriptionPatch) (linkwatch.Subscription, error) {
	return db.changeSubscription(ctx, "update subscription", id, func(tx *Tx, cur linkwatch.Subscription) error {
		if p.Filter != nil {
			tx.Exec(ctx, `UPDATE subscriptions SET filter = $1 WHERE id = $2`, JSON{*p.Filter}, id)
		}
		if p.Description != nil {
			tx.Exec(ctx, `UPDATE subscriptions SET description = $1 WHERE id = $2`, *p.Description, id)
		}
		tx.Exec(ctx, `UPDATE subscriptions SET updated_at = $1 WHERE id = $2`, tx.now, id)
		if p.Paused == nil {
			return nil
		}
		// Under the outbox lock (after the row's, as everywhere): a
		// fan-out either comes before the pause or sees it.
		if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
			return err
		}
		tx.Exec(ctx, `UPDATE subscriptions SET paused = $1 WHERE id = $2`, *p.Paused, id)
		if *p.Paused {
			return nil
		}
		if cur.State() == linkwatch.SubscriptionPaused {
			// What was made since the last fan-out, while it was paused, is
			// recorded as skipped too: replay finds every alert it missed,
			// and the fan-out from now on the rest.
			fanOutTo(ctx, tx, cur.Channel(), linkwatch.DeliverySkipped)
		}
		if !cur.DisabledAt.IsZero() && cur.VerifiedAt.IsZero() {
			// Switched off by a 410 to its verification: back on, it is
			// verified again.
			tx.Exec(ctx, requestVerification, id)
		}
		if cur.Paused || !cur.DisabledAt.IsZero() {
			return db.resumeFromNow(ctx, tx, cur.Channel())
		}
		return nil
	})
}

// DeleteSubscription removes a subscription and closes its pending
// deliveries; their history is kept.
func (db *DB) DeleteSubscription(ctx context.Context, id int64) error {
	return db.update(ctx, "delete subscription", func(tx *Tx) error {
		if tx.Exec(ctx, `DELETE FROM subscriptions WHERE id = $1`, id) == 0 && tx.err == nil {
			return fmt.Errorf("subscription %d: %w", id, linkwatch.ErrNotFound)
		}
		return db.closeChannel(ctx, tx, linkwatch.SubscriptionChannel(id), "subscription deleted")
	})
}

// closeChannel ends the channel of a receiver deleted in tx (a webhook
// subscription, an email subscriber): its pending deliveries are closed
// as dead with why, their history kept, and its state and resume point
// go. It takes the outbox lock: a fan-out either commits first, and its
// deliveries are closed here, or comes after and sees the receiver gone.
func (db *DB) closeChannel(ctx context.Context, tx *Tx, ch, why string) error {
	if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
		return err
	}
	tx.Exec(ctx, `UPDATE deliveries SET status = $1, last_error = $2, updated_at = $3 WHERE channel = $4 AND status = $5`,
		linkwatch.DeliveryDead, why, tx.now, ch, linkwatch.DeliveryPending)
	tx.Exec(ctx, `DELETE FROM channel_state WHERE channel = $1`, ch)
	tx.Exec(ctx, `DELETE FROM channel_resume WHERE channel = $1`, ch)
	return nil
}

// RotateSecret makes secret the signing secret, the old one signing too
// for linkwatch.SecretOverlap.
func (db *DB) RotateSecret(ctx context.Context, id int64, secret string) (linkwatch.Subscription, error) {
	return db.changeSubscription(ctx, "rotate secret", id, func(tx *Tx, _ linkwatch.Subscription) error {
		tx.Exec(ctx, `UPDATE subscriptions SET previous_secret = secret, previous_until = $1, secret = $2, updated_at = $3 WHERE id = $4`,
			tx.now.Add(linkwatch.SecretOverlap), secret, tx.now, id)
		return nil
	})
}

// requestVerification makes subscription $1 due for a verification now, a
// new one: attempts counted again from zero.
const requestVerification = `UPDATE subscriptions SET verify_due = true, verify_attempts = 0, verify_first_at = NULL, verify_next_at = NULL
	WHERE id = $1`

// RequestVerification asks for a subscription.verify event to be sent.
func (db *DB) RequestVerification(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	return db.changeSubscription(ctx, "request verification", id, func(tx *Tx, _ linkwatch.Subscription) error {
		tx.Exec(ctx, requestVerification, id)
		tx.Exec(ctx, `UPDATE subscriptions SET updated_at = $1 WHERE id = $2`, tx.now, id)
		return nil
	})
}

// ClaimVerification claims a due verification for owner until lease has
// passed, unless another owner's unexpired claim holds it: of replicas
// sharing the database, one sends each (the row's update makes it
// exclusive). It returns false when none is due (or not yet: its next
// attempt is later) or another holds it. RecordVerification ends the
// claim.
func (db *DB) ClaimVerification(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error) {
	return db.claimDue(ctx, "claim verification", "subscriptions", "verify", id, owner, lease)
}

// claimDue claims row id of table's due send (a verification, a
// confirmation mail: its columns <send>_due, _next_at, _claimed_by and
// _claimed_until) for owner until lease has passed, unless another
// owner's unexpired claim holds it; false when none is due or another
// holds it. The row's update makes the claim exclusive.
func (db *DB) claimDue(ctx context.Context, what, table, send string, id int64, owner string, lease time.Duration) (bool, error) {
	var claimed bool
	err := db.update(ctx, what, func(tx *Tx) error {
		claimed = tx.Exec(ctx, `UPDATE `+table+` SET `+send+`_claimed_by = $1, `+send+`_claimed_until = $2
			WHERE id = $3 AND `+send+`_due AND (`+send+`_next_at IS NULL OR `+send+`_next_at <= $4)
			AND (`+send+`_claimed_until IS NULL OR `+send+`_claimed_until <= $4 OR `+send+`_claimed_by = $1)`,
			owner, tx.now.Add(lease), id, tx.now) == 1
		return nil
	})
	return claimed, err
}

// RecordVerification records a verification attempt's outcome, as a
// delivery's: sent makes the subscription active, from the alerts made
// from now on; pending keeps it due at o.NextAt; dead stops trying until a
// verification is requested again; disabled (410 Gone) switches its
// channel off. Every failure counts an attempt.
func (db *DB) RecordVerification(ctx context.Context, id int64, o linkwatch.Outcome) error {
	_, err := db.changeSubscription(ctx, "record verification", id, func(tx *Tx, cur linkwatch.Subscription) error {
		if o.Status == linkwatch.DeliverySent {
			tx.Exec(ctx, `UPDATE subscriptions SET verify_due = false, verify_error = '', verified_at = COALESCE(verified_at, $1),
				verify_attempts = 0, verify_first_at = NULL, verify_next_at = NULL,
				updated_at = $1, verify_claimed_by = '', verify_claimed_until = NULL WHERE id = $2`, tx.now, id)
			if cur.VerifiedAt.IsZero() || !cur.DisabledAt.IsZero() {
				return db.resumeFromNow(ctx, tx, cur.Channel())
			}
			return nil
		}
		due := o.Status == linkwatch.DeliveryPending
		next := any(nil)
		if due {
			next = o.NextAt
		}
		tx.Exec(ctx, `UPDATE subscriptions SET verify_due = $1, verify_error = $2, verify_attempts = verify_attempts + 1,
			verify_first_at = COALESCE(verify_first_at, $3), verify_next_at = $4, updated_at = $3,
			verify_claimed_by = '', verify_claimed_until = NULL WHERE id = $5`, due, o.Error, tx.now, next, id)
		if o.Status == linkwatch.DeliveryDisabled {
			disableChannel(ctx, tx, cur.Channel(), o.Error)
		}
		return nil
	})
	return err
}

const deliveryLogSelect = `SELECT d.id, o.event_id, o.type, COALESCE(o.incident_id, 0), d.channel, d.status, d.attempts,
	d.last_status, d.last_error, d.next_at, d.updated_at, o.created_at, d.first_at, d.redeliveries
	FROM deliveries d JOIN outbox o ON o.id = d.outbox_id `

func scanDeliveryLog(row scanner) (l linkwatch.DeliveryLog, err error) {
	return l, row.Scan(&l.ID, &l.EventID, &l.Type, &l.IncidentID, &l.Channel, &l.Status, &l.Attempts,
		&l.LastStatus, &l.LastError, at(&l.NextAt), at(&l.UpdatedAt), at(&l.CreatedAt), at(&l.FirstAt), &l.Redeliveries)
}

// DeliveryLog returns deliveries newest first, paginated by id; alerts a
// channel's filters did not match are not in it.
func (db *DB) DeliveryLog(ctx context.Context, q linkwatch.DeliveryQuery) ([]linkwatch.DeliveryLog, error) {
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	return read(ctx, db, "read delivery log", deliveryLogSelect+`WHERE d.status <> ALL($1) AND d.id < $2 AND ($3 = '' OR d.channel = $3)
		ORDER BY d.id DESC LIMIT $4`, []any{notInLog, before, q.Channel, q.Limit}, scanDeliveryLog)
}

// Redeliver queues a delivery again (same alert, same event id), never to
// a channel that is switched off.
func (db *DB) Redeliver(ctx context.Context, id int64) (linkwatch.DeliveryLog, error) {
	var out linkwatch.DeliveryLog
	err := db.update(ctx, "redeliver", func(tx *Tx) error {
		cur, err := scanDeliveryLog(tx.row(ctx, deliveryLogSelect+`WHERE d.id = $1 FOR UPDATE OF d`, id))
		if err = missing(err, fmt.Errorf("delivery %d: %w", id, linkwatch.ErrNotFound)); err != nil {
			return err
		}
		if !InDeliveryLog(cur.Status) {
			return fmt.Errorf("delivery %d: %w", id, linkwatch.ErrNotFound)
		}
		var off bool
		if err := tx.row(ctx, `SELECT EXISTS (SELECT 1 FROM channel_state WHERE channel = $1)`, cur.Channel).Scan(&off); err != nil {
			return err
		}
		if off { // sending it would only close it again, unsent
			return fmt.Errorf("channel %s is disabled: enable it first: %w", cur.Channel, linkwatch.ErrConflict)
		}
		requeue(ctx, tx, id)
		out, err = scanDeliveryLog(tx.row(ctx, deliveryLogSelect+`WHERE d.id = $1`, id))
		return err
	})
	return out, err
}

func requeue(ctx context.Context, tx *Tx, id int64) {
	tx.Exec(ctx, `UPDATE deliveries SET status = $1, next_at = $2, first_at = NULL, updated_at = $2, redeliveries = redeliveries + 1 WHERE id = $3`,
		linkwatch.DeliveryPending, tx.now, id)
}

// Replay queues again, in outbox order, the channel's deliveries of
// alerts made since since (inclusive) that match, skipped ones included,
// a page of about limit of them (ReplayPage). next is zero when every
// match was queued, else the since of the next page. match sees each
// alert once, in outbox order.
func (db *DB) Replay(ctx context.Context, channel string, since time.Time, limit int, match func(linkwatch.Alert) bool) (int, time.Time, error) {
	var ids []int64
	var next time.Time
	err := db.update(ctx, "replay", func(tx *Tx) error {
		rows, err := all(ctx, tx.runner, `SELECT d.id, o.created_at, o.payload FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE d.channel = $1 AND o.created_at >= $2 ORDER BY o.id FOR UPDATE OF d`, []any{channel, since},
			func(row scanner) (r ReplayRow, err error) {
				return r, row.Scan(&r.ID, at(&r.CreatedAt), jsonOf(&r.Alert))
			})
		if err != nil {
			return err
		}
		ids, next = ReplayPage(rows, limit, match)
		for _, id := range ids {
			requeue(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return len(ids), next, nil
}
