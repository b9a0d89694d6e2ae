package storage

import (
	"context"
	"time"

	"linkwatch"
)

// NewChannelLookback is how far back a channel added to the config picks up
// alerts, so adding one does not replay the whole history to it.
const NewChannelLookback = time.Hour

// FanOut releases the alert groups whose interval has passed into the
// outbox, then creates a pending delivery per channel for each outbox alert
// the channel has not seen, and a skipped one for each paused
// subscription (replay finds them). It is idempotent, and replicas running
// it at once take turns under the outbox lock.
func (db *DB) FanOut(ctx context.Context, channels []string) error {
	return db.update(ctx, "fan out alerts", func(tx *Tx) error {
		if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
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
				if err := tx.row(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE id = $1 AND verified_at IS NOT NULL AND NOT paused
					AND NOT EXISTS (SELECT 1 FROM channel_state WHERE channel = $2))`, id, ch).Scan(&live); err != nil || !live {
					if err != nil {
						return err
					}
					continue
				}
			}
			if id, ok := linkwatch.EmailSubscriberOf(ch); ok {
				// The same for a subscriber who left or bounced since.
				var live bool
				if err := tx.row(ctx, `SELECT EXISTS (SELECT 1 FROM email_subscribers WHERE id = $1 AND confirmed_at IS NOT NULL
					AND NOT EXISTS (SELECT 1 FROM channel_state WHERE channel = $2))`, id, ch).Scan(&live); err != nil || !live {
					if err != nil {
						return err
					}
					continue
				}
			}
			fanOutTo(ctx, tx, ch, linkwatch.DeliveryPending)
		}
		paused, err := all(ctx, tx.runner, `SELECT CAST($1 AS TEXT) || s.id FROM subscriptions s WHERE s.paused AND s.verified_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM channel_state WHERE channel = CAST($1 AS TEXT) || s.id)`, []any{linkwatch.SubscriptionChannelPrefix},
			func(row scanner) (ch string, err error) { return ch, row.Scan(&ch) })
		for _, ch := range paused {
			fanOutTo(ctx, tx, ch, linkwatch.DeliverySkipped)
		}
		return err
	})
}

// fanOutTo creates a delivery of status for each outbox alert the channel
// has not seen: those after its last one, after the point it was resumed
// from, and for a new channel those of the last NewChannelLookback. The
// caller holds the outbox lock. Maintenance alerts (no incident) and
// postmortem alerts go to the status page's email subscribers alone
// (linkwatch.AlertType.MailOnly).
func fanOutTo(ctx context.Context, tx *Tx, channel string, status linkwatch.DeliveryStatus) {
	_, mailed := linkwatch.EmailSubscriberOf(channel)
	lastError := ""
	if status == linkwatch.DeliverySkipped {
		lastError = "not sent: the subscription was paused (replay sends it)"
	}
	tx.Exec(ctx, `INSERT INTO deliveries (outbox_id, channel, status, last_error, next_at, updated_at)
		SELECT o.id, $1, $2, $3, o.created_at, $4 FROM outbox o
		WHERE o.id > COALESCE((SELECT MAX(outbox_id) FROM deliveries WHERE channel = $1), (SELECT COALESCE(MAX(id), 0) FROM outbox WHERE created_at < $5))
		AND o.id > COALESCE((SELECT after_outbox_id FROM channel_resume WHERE channel = $1), 0)
		AND (CAST($6 AS BOOLEAN) OR o.incident_id IS NOT NULL AND o.type <> $7)
		ORDER BY o.id
		ON CONFLICT (outbox_id, channel) DO NOTHING`, channel, status, lastError, tx.now, tx.now.Add(-NewChannelLookback), mailed,
		string(linkwatch.AlertPostmortem))
}

// deliveryColumns are what scanDelivery reads, of deliveries d joined with
// their outbox alert o.
const deliveryColumns = `d.id, d.channel, d.attempts, d.first_at, d.next_at, o.payload`

func scanDelivery(row scanner) (d linkwatch.Delivery, err error) {
	return d, row.Scan(&d.ID, &d.Channel, &d.Attempts, at(&d.FirstAt), at(&d.NextAt), jsonOf(&d.Alert))
}

// PendingDeliveries returns a channel's pending deliveries after the
// delivery id after, oldest first.
func (db *DB) PendingDeliveries(ctx context.Context, channel string, after int64, limit int) ([]linkwatch.Delivery, error) {
	return read(ctx, db, "read deliveries", `SELECT `+deliveryColumns+` FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.channel = $1 AND d.status = $2 AND d.id > $3 ORDER BY d.id LIMIT $4`, []any{channel, linkwatch.DeliveryPending, after, limit}, scanDelivery)
}

// ClaimDeliveries claims up to limit of a channel's due deliveries for
// owner until lease has passed, oldest first, and returns them. A delivery
// is claimable when no other dispatcher holds an unexpired claim on it and
// no earlier delivery of the same incident (or, for a maintenance alert,
// of maintenance) to the channel is still pending, so an incident's
// alerts go out in order, one at a time, whichever replica sends them. Replicas claiming at once skip each
// other's rows (FOR UPDATE SKIP LOCKED; SQLite's one writer makes each
// claim exclusive): each delivery is claimed by one.
func (db *DB) ClaimDeliveries(ctx context.Context, channel, owner string, lease time.Duration, limit int) ([]linkwatch.Delivery, error) {
	var out []linkwatch.Delivery
	err := db.update(ctx, "claim deliveries of "+channel, func(tx *Tx) error {
		ids, err := all(ctx, tx.runner, `UPDATE deliveries SET claimed_until = $4, claimed_by = $5 WHERE id IN (
				SELECT d.id FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
				WHERE d.channel = $1 AND d.status = $6 AND d.next_at <= $2
				AND (d.claimed_until IS NULL OR d.claimed_until <= $2 OR d.claimed_by = $5)
				AND NOT EXISTS (SELECT 1 FROM deliveries e JOIN outbox eo ON eo.id = e.outbox_id
					WHERE e.channel = d.channel AND e.status = $6 AND e.id < d.id
					AND (eo.incident_id = o.incident_id OR eo.incident_id IS NULL AND o.incident_id IS NULL))
				ORDER BY d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED)
			RETURNING id`, []any{channel, tx.now, limit, tx.now.Add(lease), owner, linkwatch.DeliveryPending},
			func(row scanner) (id int64, err error) { return id, row.Scan(&id) })
		if err != nil || len(ids) == 0 {
			return err
		}
		out, err = all(ctx, tx.runner, `SELECT `+deliveryColumns+` FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE d.id = ANY($1) ORDER BY d.id`, []any{ids}, scanDelivery)
		return err
	})
	return out, err
}

// AlertSent reports whether the outbox holds the alert of event id
// eventID, and whether the channel's delivery of it was sent.
func (db *DB) AlertSent(ctx context.Context, channel, eventID string) (written, sent bool, err error) {
	err = db.read.row(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE event_id = $1),
		EXISTS (SELECT 1 FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE o.event_id = $1 AND d.channel = $2 AND d.status = $3)`,
		eventID, channel, linkwatch.DeliverySent).Scan(&written, &sent)
	return written, sent, db.wrap("alert sent", err)
}

// Followed reports whether the channel has a delivery of the incident
// before the delivery before that is in the delivery log (InDeliveryLog:
// not filtered nor skipped).
func (db *DB) Followed(ctx context.Context, channel string, incidentID, before int64) (bool, error) {
	var ok bool
	err := db.read.row(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.channel = $1 AND o.incident_id = $2 AND d.id < $3 AND d.status <> ALL($4))`, channel, incidentID, before, notInLog).Scan(&ok)
	return ok, db.wrap("earlier deliveries", err)
}

// ReleaseClaims gives up owner's claims on deliveries still pending and
// on subscriptions' verifications.
func (db *DB) ReleaseClaims(ctx context.Context, owner string) error {
	return db.update(ctx, "release claims", func(tx *Tx) error {
		tx.Exec(ctx, `UPDATE deliveries SET claimed_until = NULL, claimed_by = '' WHERE claimed_by = $1 AND status = $2`, owner, linkwatch.DeliveryPending)
		tx.Exec(ctx, `UPDATE subscriptions SET verify_claimed_until = NULL, verify_claimed_by = '' WHERE verify_claimed_by = $1`, owner)
		tx.Exec(ctx, `UPDATE email_subscribers SET confirm_claimed_until = NULL, confirm_claimed_by = '' WHERE confirm_claimed_by = $1`, owner)
		return nil
	})
}

// MarkDelivery records an attempt's outcome.
func (db *DB) MarkDelivery(ctx context.Context, id int64, o linkwatch.Outcome) error {
	return db.update(ctx, "mark delivery", func(tx *Tx) error {
		next := o.NextAt
		if next.IsZero() {
			next = tx.now
		}
		tx.Exec(ctx, `UPDATE deliveries SET status = $1, attempts = attempts + 1, first_at = COALESCE(first_at, $2),
			next_at = $3, last_status = $4, last_error = $5, updated_at = $2, claimed_until = NULL, claimed_by = '' WHERE id = $6`,
			o.Status, tx.now, next, o.HTTPStatus, o.Error, id)
		return nil
	})
}

// DisableChannel switches a channel off and closes its pending deliveries.
func (db *DB) DisableChannel(ctx context.Context, channel, reason string) error {
	return db.update(ctx, "disable channel", func(tx *Tx) error { disableChannel(ctx, tx, channel, reason); return nil })
}

func disableChannel(ctx context.Context, tx *Tx, channel, reason string) {
	tx.Exec(ctx, `INSERT INTO channel_state (channel, disabled_at, reason) VALUES ($1, $2, $3)
		ON CONFLICT (channel) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason`, channel, tx.now, reason)
	tx.Exec(ctx, `UPDATE deliveries SET status = $1, updated_at = $2 WHERE channel = $3 AND status = $4`,
		linkwatch.DeliveryDisabled, tx.now, channel, linkwatch.DeliveryPending)
}

// EnableChannel switches a channel back on. It starts from the alerts made
// from now on: what it missed while off is not replayed.
func (db *DB) EnableChannel(ctx context.Context, channel string) error {
	return db.update(ctx, "enable channel", func(tx *Tx) error { return db.resumeFromNow(ctx, tx, channel) })
}

// resumeFromNow switches a channel on, from the alerts made after now,
// under the outbox lock so no alert commits between reading the last id
// and writing it down.
func (db *DB) resumeFromNow(ctx context.Context, tx *Tx, channel string) error {
	if err := db.d.LockTx(ctx, tx, LockOutbox); err != nil {
		return err
	}
	tx.Exec(ctx, `DELETE FROM channel_state WHERE channel = $1`, channel)
	tx.Exec(ctx, `INSERT INTO channel_resume (channel, after_outbox_id) SELECT $1, COALESCE(MAX(id), 0) FROM outbox WHERE true
		ON CONFLICT (channel) DO UPDATE SET after_outbox_id = excluded.after_outbox_id`, channel)
	return nil
}

// DisabledChannels returns the switched-off channels and why.
func (db *DB) DisabledChannels(ctx context.Context) (map[string]string, error) {
	states, err := db.channelState(ctx)
	out := make(map[string]string, len(states))
	for c, st := range states {
		out[c] = st.Reason
	}
	return out, err
}

func (db *DB) channelState(ctx context.Context) (map[string]linkwatch.ChannelState, error) {
	out := map[string]linkwatch.ChannelState{}
	err := each(ctx, db.read, `SELECT channel, disabled_at, reason FROM channel_state`, nil, func(row scanner) error {
		var st linkwatch.ChannelState
		err := row.Scan(&st.Name, at(&st.DisabledAt), &st.Reason)
		out[st.Name] = st
		return err
	})
	return out, db.wrap("read channel state", err)
}

// ChannelStates returns the named channels in order: on, or off (and
// why), with their deliveries by status.
func (db *DB) ChannelStates(ctx context.Context, names []string) ([]linkwatch.ChannelState, error) {
	off, err := db.channelState(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]map[linkwatch.DeliveryStatus]int64{}
	err = each(ctx, db.read, `SELECT channel, status, COUNT(*) FROM deliveries GROUP BY channel, status`, nil, func(row scanner) error {
		var c string
		var st linkwatch.DeliveryStatus
		var n int64
		err := row.Scan(&c, &st, &n)
		if counts[c] == nil {
			counts[c] = map[linkwatch.DeliveryStatus]int64{}
		}
		counts[c][st] = n
		return err
	})
	if err != nil {
		return nil, db.wrap("count deliveries", err)
	}
	out := make([]linkwatch.ChannelState, 0, len(names))
	for _, name := range names {
		st, disabled := off[name]
		st.Name, st.Enabled = name, !disabled
		st.Deliveries = counts[name]
		if st.Deliveries == nil {
			st.Deliveries = map[linkwatch.DeliveryStatus]int64{}
		}
		out = append(out, st)
	}
	return out, nil
}

// ThreadRef returns a channel's thread reference for an incident ("" if none).
func (db *DB) ThreadRef(ctx context.Context, incidentID int64, channel string) (string, error) {
	var ref string
	err := db.read.row(ctx, `SELECT ref FROM channel_threads WHERE incident_id = $1 AND channel = $2`, incidentID, channel).Scan(&ref)
	return ref, db.wrap("read thread ref", missing(err, nil))
}

// SetThreadRef stores a channel's thread reference for an incident.
func (db *DB) SetThreadRef(ctx context.Context, incidentID int64, channel, ref string) error {
	return db.update(ctx, "set thread ref", func(tx *Tx) error {
		tx.Exec(ctx, `INSERT INTO channel_threads (incident_id, channel, ref) VALUES ($1, $2, $3)
			ON CONFLICT (incident_id, channel) DO UPDATE SET ref = excluded.ref`, incidentID, channel, ref)
		return nil
	})
}

// OutboxBacklog counts the deliveries not yet sent and finds the oldest
// one's alert, for metrics.
func (db *DB) OutboxBacklog(ctx context.Context) (linkwatch.Backlog, error) {
	var b linkwatch.Backlog
	err := db.read.row(ctx, `SELECT COUNT(*), MIN(o.created_at) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.status = $1`, linkwatch.DeliveryPending).Scan(&b.Pending, at(&b.Oldest))
	return b, db.wrap("count pending deliveries", err)
}
