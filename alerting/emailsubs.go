package alerting

import (
	"context"
	"errors"
	"strconv"
	"time"

	"linkwatch"
)

// EmailStore is what the dispatcher needs to mail the status page's
// subscribers.
type EmailStore interface {
	ListEmailSubscribers(ctx context.Context) ([]linkwatch.EmailSubscriber, error)
	// ClaimConfirmation claims a subscriber's due confirmation mail for
	// owner until lease has passed: false when none is due or another
	// replica holds it.
	ClaimConfirmation(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error)
	// RecordConfirmation records an attempt's outcome, as a delivery's.
	RecordConfirmation(ctx context.Context, id int64, o Outcome) error
}

// chooser is a sink that takes only some alerts, beyond its filter's
// scope: an email subscriber gets no automatic update (Mailed). followed
// says whether the channel got an earlier alert of the incident; it is
// read only for alerts of links joining an incident.
type chooser interface {
	Wants(a linkwatch.Alert, followed bool) bool
}

// MailSubscribers makes the dispatcher mail the status page's email
// subscribers in store through m: each confirmed one is a channel with its
// own loop (linkwatch.EmailChannel), like a webhook subscription, and
// every due confirmation mail is sent once, by one replica. Call it after
// Subscribe, before Run.
func (d *Dispatcher) MailSubscribers(store EmailStore, m *Mailer) {
	if d.subs == nil {
		d.Subscribe(nil, nil)
	}
	d.subs.emails, d.subs.mail = store, m
}

// syncEmail adds the confirmed subscribers' channels to active and sends
// the confirmations due. false: the subscribers cannot be read, and the
// loops running are kept as they are.
func (d *Dispatcher) syncEmail(ctx context.Context, active map[string]wanted) bool {
	sb := d.subs
	if sb.emails == nil {
		return true
	}
	list, err := sb.emails.ListEmailSubscribers(ctx)
	d.failures.For("read email subscribers").Report(ctx, err)
	if err != nil {
		return false
	}
	now := d.now()
	for _, s := range list {
		if s.ConfirmDue && !now.Before(s.ConfirmNextAt) {
			d.startConfirm(ctx, s)
		}
		if s.Confirmed() && s.BouncedAt.IsZero() {
			// The sink is made from the id, key and page alone; the
			// address of an id never changes.
			active[s.Channel()] = wanted{version: s.Page + "\x00" + string(s.Key), kind: "email subscriber",
				make: func() (Sink, error) { return NewEmailSink(sb.mail, s), nil }}
		}
	}
	return true
}

// startConfirm sends a subscriber's due confirmation mail, once at a time
// here and, by a claim in the database, across replicas; a failed one is
// settled as a delivery's (settle). Logs name the subscriber's id, never
// its address.
func (d *Dispatcher) startConfirm(ctx context.Context, s linkwatch.EmailSubscriber) {
	sb := d.subs
	sb.mu.Lock()
	if sb.confirming[s.ID] {
		sb.mu.Unlock()
		return
	}
	sb.confirming[s.ID] = true
	sb.mu.Unlock()
	d.verifyWG.Go(func() {
		defer func() {
			sb.mu.Lock()
			delete(sb.confirming, s.ID)
			sb.mu.Unlock()
		}()
		claimed, err := sb.emails.ClaimConfirmation(ctx, s.ID, d.owner, d.lease)
		if err != nil || !claimed {
			if err != nil && ctx.Err() == nil {
				d.log.Error("claim email confirmation", "subscriber", s.ID, "err", err)
			}
			return
		}
		now := d.now()
		sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = sb.mail.SendConfirmation(sendCtx, s, now)
		cancel()
		o := settle(err, now, s.ConfirmFirstAt, s.ConfirmAttempts)
		if ctx.Err() != nil {
			return // shutting down: the claim is handed back (releaseClaims)
		}
		if d.recorder != nil {
			d.recorder.Delivery(confirmationChannel, o.Status)
		}
		if err := sb.emails.RecordConfirmation(ctx, s.ID, o); err != nil && !errors.Is(err, linkwatch.ErrNotFound) {
			d.log.Error("record email confirmation", "subscriber", s.ID, "err", err)
			return
		}
		if o.Status == linkwatch.DeliverySent {
			d.log.Info("email confirmation sent", "subscriber", s.ID)
			return
		}
		d.log.Warn("email confirmation not sent", "subscriber", s.ID, "attempt", strconv.Itoa(s.ConfirmAttempts+1),
			"outcome", o.Status, "next_at", o.NextAt, "err", o.Error)
	})
}

// confirmationChannel is the name the metrics count confirmation mails
// under: one series for them all, not one per address.
const confirmationChannel = "email:confirmation"
