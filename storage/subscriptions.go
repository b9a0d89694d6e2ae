package storage

import (
	"context"
	"fmt"
	"time"

	"linkwatch"
)

// Subscriptions are the webhook receivers added through the admin API, and
// the per-channel delivery log, redelivery and replay built on the outbox.
// Every replica reads them from the database: nothing about a
// subscription lives only in one process's memory.
type Subscriptions interface {
	// CreateSubscription stores a new subscription, pending verification.
	CreateSubscription(ctx context.Context, s linkwatch.Subscription) (linkwatch.Subscription, error)
	Subscription(ctx context.Context, id int64) (linkwatch.Subscription, error)
	// ListSubscriptions returns every subscription, oldest first.
	ListSubscriptions(ctx context.Context) ([]linkwatch.Subscription, error)
	// UpdateSubscription applies a patch. Resuming (paused false) a paused
	// or disabled subscription starts it from the alerts made from now on;
	// those made while it was paused are its skipped deliveries (FanOut
	// makes them), which Replay queues.
	UpdateSubscription(ctx context.Context, id int64, p linkwatch.SubscriptionPatch) (linkwatch.Subscription, error)
	// DeleteSubscription removes it; its pending deliveries are closed, its
	// history kept.
	DeleteSubscription(ctx context.Context, id int64) error
	// RotateSecret makes secret the signing secret; the old one keeps
	// signing too until incidents.SecretOverlap has passed.
	RotateSecret(ctx context.Context, id int64, secret string) (linkwatch.Subscription, error)
	// RequestVerification asks for a subscription.verify event to be sent
	// now, its attempts counted again from zero.
	RequestVerification(ctx context.Context, id int64) (linkwatch.Subscription, error)
	// ClaimVerification claims a due verification for owner until lease
	// has passed, unless another owner's unexpired claim holds it: of
	// replicas sharing the database, one sends each. It returns false when
	// none is due (or not yet: its next attempt is later) or another holds
	// it. RecordVerification ends the claim.
	ClaimVerification(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error)
	// RecordVerification records a verification attempt's outcome, as a
	// delivery's: sent makes the subscription active, from the alerts made
	// from now on; pending keeps it due at o.NextAt; dead stops trying
	// until a verification is requested again; disabled (410 Gone)
	// switches its channel off. Every failure counts an attempt.
	RecordVerification(ctx context.Context, id int64, o linkwatch.Outcome) error

	// DeliveryLog returns deliveries newest first, paginated by id; alerts
	// a channel's filters did not match are not in it.
	DeliveryLog(ctx context.Context, q linkwatch.DeliveryQuery) ([]linkwatch.DeliveryLog, error)
	// Redeliver queues a delivery again (same alert, same event id).
	Redeliver(ctx context.Context, id int64) (linkwatch.DeliveryLog, error)
	// Replay queues again, in outbox order, the channel's deliveries of
	// alerts made since since (inclusive) that match, skipped ones included, a page of about
	// limit of them (ReplayPage). next is zero when every match was
	// queued, else the since of the next page. match sees each alert once,
	// in outbox order.
	Replay(ctx context.Context, channel string, since time.Time, limit int, match func(linkwatch.Alert) bool) (n int, next time.Time, err error)
}

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
	return status != linkwatch.DeliveryFiltered && status != linkwatch.DeliverySkipped
}

// CheckRedeliver is the rule for queueing a delivery again: never to a
// channel that is switched off (a receiver that answered 410 Gone, or an
// operator's choice), which would only close it again unsent.
func CheckRedeliver(channel string, disabled bool) error {
	if disabled {
		return fmt.Errorf("channel %s is disabled: enable it first: %w", channel, linkwatch.ErrConflict)
	}
	return nil
}
