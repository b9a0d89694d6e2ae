package storage

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"linkwatch"
)

// selectEmailSubscribers reads email subscribers with whether their
// channel is switched off (a 5xx for the address). $1 is the channel
// prefix; where's parameters start at $2.
const selectEmailSubscribers = `SELECT s.id, s.address, s.page, s.key, s.confirmed_at, s.requested_at, s.confirm_due,
	s.confirm_attempts, s.confirm_first_at, s.confirm_next_at, s.created_at, cs.disabled_at, COALESCE(cs.reason, '')
	FROM email_subscribers s LEFT JOIN channel_state cs ON cs.channel = CAST($1 AS TEXT) || s.id `

func scanEmailSubscriber(row scanner) (s linkwatch.EmailSubscriber, err error) {
	var key string
	err = row.Scan(&s.ID, &s.Address, &s.Page, &key, at(&s.ConfirmedAt), at(&s.RequestedAt), &s.ConfirmDue,
		&s.ConfirmAttempts, at(&s.ConfirmFirstAt), at(&s.ConfirmNextAt), at(&s.CreatedAt), at(&s.BouncedAt), &s.BounceReason)
	if err == nil {
		s.Key, err = base64.StdEncoding.DecodeString(key)
	}
	return s, err
}

func emailSubscriberIn(ctx context.Context, r runner, where string, arg any) (linkwatch.EmailSubscriber, error) {
	s, err := scanEmailSubscriber(r.row(ctx, selectEmailSubscribers+where, linkwatch.EmailChannelPrefix, arg))
	return s, missing(err, fmt.Errorf("email subscriber: %w", linkwatch.ErrNotFound))
}

// RequestEmailSubscription records a visitor's request to subscribe
// address (parsed: linkwatch.ParseEmailAddress) to page ("" for every
// page), and makes a confirmation mail due: for a new address a pending
// subscription with a fresh key, which gets nothing but that mail; for a
// pending one, its page as asked now; for a confirmed one, a mail with its
// manage link (the answer to the visitor is the same in every case). An
// address gets at most one mail per linkwatch.EmailConfirmEvery: a request
// within it changes nothing. Pending subscriptions past twice
// linkwatch.EmailConfirmFor are deleted; a new address while maxPending
// wait (linkwatch.MaxPendingEmail) is linkwatch.ErrEmailPendingFull.
func (db *DB) RequestEmailSubscription(ctx context.Context, address, page string, maxPending int) error {
	return db.update(ctx, "request email subscription", func(tx *Tx) error {
		tx.Exec(ctx, `DELETE FROM email_subscribers WHERE confirmed_at IS NULL AND created_at < $1`, tx.now.Add(-2*linkwatch.EmailConfirmFor))
		cur, err := emailSubscriberIn(ctx, tx.runner, `WHERE s.address = $2 FOR UPDATE OF s`, address)
		switch {
		case errors.Is(err, linkwatch.ErrNotFound):
			var pending int
			if err := tx.row(ctx, `SELECT COUNT(*) FROM email_subscribers WHERE confirmed_at IS NULL`).Scan(&pending); err != nil {
				return err
			}
			if pending >= maxPending {
				return linkwatch.ErrEmailPendingFull
			}
			tx.Exec(ctx, `INSERT INTO email_subscribers (address, page, key, requested_at, confirm_due, created_at) VALUES ($1, $2, $3, $4, true, $4)`,
				address, page, base64.StdEncoding.EncodeToString(linkwatch.NewEmailKey()), tx.now)
			return nil
		case err != nil:
			return err
		case tx.now.Sub(cur.RequestedAt) < linkwatch.EmailConfirmEvery:
			return nil
		}
		if !cur.Confirmed() {
			tx.Exec(ctx, `UPDATE email_subscribers SET page = $1 WHERE id = $2`, page, cur.ID)
		}
		tx.Exec(ctx, `UPDATE email_subscribers SET requested_at = $1, confirm_due = true, confirm_attempts = 0,
			confirm_first_at = NULL, confirm_next_at = NULL WHERE id = $2`, tx.now, cur.ID)
		return nil
	})
}

// EmailSubscriber returns one subscriber.
func (db *DB) EmailSubscriber(ctx context.Context, id int64) (linkwatch.EmailSubscriber, error) {
	s, err := emailSubscriberIn(ctx, db.read, `WHERE s.id = $2`, id)
	return s, db.wrap("read email subscriber", err)
}

// ListEmailSubscribers returns every subscriber, pending ones included,
// oldest first.
func (db *DB) ListEmailSubscribers(ctx context.Context) ([]linkwatch.EmailSubscriber, error) {
	return read(ctx, db, "read email subscribers", selectEmailSubscribers+`ORDER BY s.id`, []any{linkwatch.EmailChannelPrefix}, scanEmailSubscriber)
}

// CountEmailSubscribers returns how many confirmed subscribers each page
// has ("" for those of every page): numbers, never addresses.
func (db *DB) CountEmailSubscribers(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := each(ctx, db.read, `SELECT page, COUNT(*) FROM email_subscribers WHERE confirmed_at IS NOT NULL GROUP BY page`, nil, func(row scanner) error {
		var page string
		var n int
		err := row.Scan(&page, &n)
		out[page] = n
		return err
	})
	return out, db.wrap("count email subscribers", err)
}

// ConfirmEmailSubscriber confirms a subscription (again: a no-op but for
// a switched-off channel, which a new confirmation turns back on). It gets
// the alerts made from now on.
func (db *DB) ConfirmEmailSubscriber(ctx context.Context, id int64) (linkwatch.EmailSubscriber, error) {
	var out linkwatch.EmailSubscriber
	err := db.update(ctx, "confirm email subscriber", func(tx *Tx) error {
		cur, err := emailSubscriberIn(ctx, tx.runner, `WHERE s.id = $2 FOR UPDATE OF s`, id)
		if err != nil {
			return err
		}
		if !cur.Confirmed() || !cur.BouncedAt.IsZero() {
			tx.Exec(ctx, `UPDATE email_subscribers SET confirmed_at = COALESCE(confirmed_at, $1) WHERE id = $2`, tx.now, id)
			if err := db.resumeFromNow(ctx, tx, cur.Channel()); err != nil {
				return err
			}
		}
		out, err = emailSubscriberIn(ctx, tx.runner, `WHERE s.id = $2`, id)
		return err
	})
	return out, err
}

// SetEmailScope changes what a subscriber gets: page's mails ("" for
// every page).
func (db *DB) SetEmailScope(ctx context.Context, id int64, page string) error {
	return db.update(ctx, "change email subscriber", func(tx *Tx) error {
		if tx.Exec(ctx, `UPDATE email_subscribers SET page = $1 WHERE id = $2`, page, id) == 0 && tx.err == nil {
			return fmt.Errorf("email subscriber %d: %w", id, linkwatch.ErrNotFound)
		}
		return nil
	})
}

// DeleteEmailSubscriber deletes a subscriber, its address with it, and
// closes its pending deliveries; their history, which names no address,
// is kept.
func (db *DB) DeleteEmailSubscriber(ctx context.Context, id int64) error {
	return db.update(ctx, "delete email subscriber", func(tx *Tx) error {
		if tx.Exec(ctx, `DELETE FROM email_subscribers WHERE id = $1`, id) == 0 && tx.err == nil {
			return fmt.Errorf("email subscriber %d: %w", id, linkwatch.ErrNotFound)
		}
		return db.closeChannel(ctx, tx, linkwatch.EmailChannel(id), "subscriber left")
	})
}

// ClaimConfirmation claims a subscriber's due confirmation mail for owner
// until lease has passed: false when none is due or another replica holds
// it, so one replica sends each.
func (db *DB) ClaimConfirmation(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error) {
	return db.claimDue(ctx, "claim confirmation", "email_subscribers", "confirm", id, owner, lease)
}

// RecordConfirmation records a confirmation mail's outcome, as a
// delivery's: sent or dead, no longer due; pending, due again at o.NextAt.
// A 5xx for the address (disabled) deletes a pending subscriber (nothing
// keeps an address that was never confirmed) and switches a confirmed
// one's channel off.
func (db *DB) RecordConfirmation(ctx context.Context, id int64, o linkwatch.Outcome) error {
	return db.update(ctx, "record confirmation", func(tx *Tx) error {
		cur, err := emailSubscriberIn(ctx, tx.runner, `WHERE s.id = $2 FOR UPDATE OF s`, id)
		if err != nil {
			return err
		}
		switch o.Status {
		case linkwatch.DeliveryDisabled:
			if !cur.Confirmed() {
				tx.Exec(ctx, `DELETE FROM email_subscribers WHERE id = $1`, id)
				return nil
			}
			disableChannel(ctx, tx, cur.Channel(), o.Error)
			fallthrough
		case linkwatch.DeliverySent, linkwatch.DeliveryDead:
			tx.Exec(ctx, `UPDATE email_subscribers SET confirm_due = false, confirm_attempts = 0, confirm_first_at = NULL, confirm_next_at = NULL,
				confirm_claimed_by = '', confirm_claimed_until = NULL WHERE id = $1`, id)
		default:
			tx.Exec(ctx, `UPDATE email_subscribers SET confirm_attempts = confirm_attempts + 1, confirm_first_at = COALESCE(confirm_first_at, $1),
				confirm_next_at = $2, confirm_claimed_by = '', confirm_claimed_until = NULL WHERE id = $3`, tx.now, o.NextAt, id)
		}
		return nil
	})
}
