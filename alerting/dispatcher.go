// Package alerting delivers incident alerts from the durable outbox to
// Slack, Sentry and signed webhooks, retrying until delivered or
// dead-lettered, and sends metrics to DataDog.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"linkwatch"
	"linkwatch/backoff"
	"linkwatch/errlog"
)

// Delivery and Outcome are the outbox's, defined with it in incidents so
// that storage can name them without importing the alert channels.
type (
	Delivery = linkwatch.Delivery
	Outcome  = linkwatch.Outcome
)

// Store is what the dispatcher needs from storage.
type Store interface {
	// FanOut creates a pending delivery per channel for every new outbox
	// alert, and a skipped one (never sent; replay finds it) for every
	// paused subscription.
	FanOut(ctx context.Context, channels []string) error
	// ClaimDeliveries claims up to limit of a channel's due deliveries for
	// owner until lease has passed, oldest first. It never returns a
	// delivery while an earlier one of the same incident to the channel is
	// pending, nor one claimed by another whose claim has not expired: of
	// replicas sharing the outbox, one sends each alert, in order.
	ClaimDeliveries(ctx context.Context, channel, owner string, lease time.Duration, limit int) ([]Delivery, error)
	// PendingDeliveries returns a channel's pending deliveries with an id
	// above after, oldest first (to settle those its filters leave out).
	PendingDeliveries(ctx context.Context, channel string, after int64, limit int) ([]Delivery, error)
	// Followed reports whether a channel has a delivery of the incident
	// before the delivery before that its filters did not leave out.
	Followed(ctx context.Context, channel string, incidentID, before int64) (bool, error)
	// AlertSent reports whether the outbox holds the alert of an event
	// id, and whether the channel's delivery of it was sent.
	AlertSent(ctx context.Context, channel, eventID string) (written, sent bool, err error)
	// ReleaseClaims gives up owner's claims on deliveries still pending
	// and on subscriptions' verifications.
	ReleaseClaims(ctx context.Context, owner string) error
	MarkDelivery(ctx context.Context, id int64, o Outcome) error
	DisableChannel(ctx context.Context, channel, reason string) error
	DisabledChannels(ctx context.Context) (map[string]string, error)
}

// Sink sends alerts to one channel.
type Sink interface {
	// Name identifies the channel in the outbox ("slack", "webhook:ops", ...).
	Name() string
	// Send delivers one alert. nil means delivered; a *SendError says
	// whether to retry; any other error is retried.
	Send(ctx context.Context, d Delivery) error
}

// SendError classifies a failed send, like Alertmanager's (retry, err).
type SendError struct {
	Retry      bool          // worth trying again
	RetryAfter time.Duration // the receiver's own wish (429 Retry-After)
	Disable    bool          // the receiver asked never to be called again (410 Gone)
	HTTPStatus int
	Err        error // must already be free of secrets
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// deliveryBackoff is the wait between a delivery's attempts: about 5 s,
// 30 s, 2 m, 10 m, 1 h, then hourly until GiveUpAfter has passed since the
// first attempt, with ±20 % jitter so many failed deliveries do not retry
// in lockstep.
var deliveryBackoff = backoff.Backoff{Steps: []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}, Jitter: 0.2}

// GiveUpAfter is how long a delivery is retried before it is dead-lettered.
const GiveUpAfter = 24 * time.Hour

// Recorder is told of every attempt, for metrics.
type Recorder interface {
	Delivery(channel string, outcome linkwatch.DeliveryStatus)
}

// Dispatcher delivers the outbox. Each channel has its own loop, so a slow
// or failing channel never holds up another. Within a channel, order is
// kept per incident: an incident's alerts arrive in the order they were
// made, and one incident whose delivery keeps failing never holds back the
// alerts of others. A receiver that was down gets everything when it is back.
type Dispatcher struct {
	store    Store
	sinks    []Sink
	log      *slog.Logger
	recorder Recorder
	now      func() time.Time
	poll     time.Duration
	owner    string         // who claims, in the deliveries table
	lease    time.Duration  // how long a claim keeps other replicas off
	subs     *subscribers   // nil: configured sinks only (Subscribe)
	verifyWG sync.WaitGroup // verifications in flight

	mu         sync.Mutex
	unrecorded map[string]*unrecorded // by channel
	settled    map[string]settledUpTo // by channel

	// failures log each loop's failures (fan-out, a channel's
	// deliveries, ...) once a minute at most: a full disk fails every
	// poll of every loop.
	failures errlog.Set
}

// settledUpTo is how far settleFiltered has looked at a channel's
// deliveries with one sink's filters: those up to id that they leave out
// are settled, and the others they let through, for good. A new sink (a
// subscription's changed filters) looks at them all again.
type settledUpTo struct {
	sink Sink
	id   int64
}

// unrecorded holds a channel's outcomes that the database refused to
// record (a full disk, a read-only file, a held lock). A send that
// succeeded must never be repeated because its record failed: the outcome
// waits here, the channel sends nothing else, and the write is retried
// with backoff until the database takes it. Only a restart forgets it, and
// then a receiver sees one duplicate (same event id), as after a crash.
type unrecorded struct {
	outcomes map[int64]Outcome // delivery id -> its outcome
	order    []int64           // delivery ids, in the order they were settled
	failures int               // failed writes in a row
	retryAt  time.Time
}

// recordBackoff is the wait between attempts to record held outcomes: 1 s
// doubling to a minute.
var recordBackoff = backoff.Doubling(time.Second, time.Minute)

// NewDispatcher returns a dispatcher for sinks.
func NewDispatcher(store Store, sinks []Sink, recorder Recorder, log *slog.Logger) *Dispatcher {
	d := &Dispatcher{store: store, sinks: sinks, log: log, recorder: recorder, now: time.Now, poll: time.Second,
		owner: "linkwatch", lease: DefaultClaimLease, unrecorded: map[string]*unrecorded{}, settled: map[string]settledUpTo{}}
	d.failures = errlog.Set{Log: log, Now: func() time.Time { return d.now() }}
	return d
}

// SetClock replaces the dispatcher's clock (time.Now): the time its
// retries are due by, which every replica's dispatcher compares with the
// database's (serve gives it storage.DB.Now). Claims are reckoned by the
// database itself. Call it before Run.
func (d *Dispatcher) SetClock(now func() time.Time) { d.now = now }

// SetPoll replaces how often the dispatcher looks for alerts to fan out
// and deliveries due (a second): a test of what it sends shortens it
// rather than wait a second a step. Call it before Run.
func (d *Dispatcher) SetPoll(every time.Duration) { d.poll = every }

// sendTimeout bounds one send (a delivery, a verification), and the
// claim lease is sized from it.
const sendTimeout = 10 * time.Second

// DefaultClaimLease is how long a claimed delivery is this dispatcher's to
// send: two send timeouts, one for the send and one for recording its
// outcome. The claim of a replica killed (or hung) mid-send expires after
// it, by the database's clock, and another replica sends the alert again
// with the same event id (webhook-id), which receivers deduplicate on.
const DefaultClaimLease = 2 * sendTimeout

// claimBatch is how many deliveries a channel claims at a time: one, so a
// claim covers one send, and a replica killed holds back one alert per
// channel for the lease, not a batch of them. Alerts are few; a claim is
// one short transaction.
const claimBatch = 1

// SetClaim names this dispatcher in its claims (a replica's member id,
// unique to the process start: a dispatcher takes its own claims back at
// once) and sets how long a claim lasts (at least two send timeouts).
func (d *Dispatcher) SetClaim(owner string, lease time.Duration) {
	d.owner, d.lease = owner, max(lease, 2*sendTimeout)
}

// Run delivers until ctx ends. After a crash, it resumes from the outbox:
// every alert is delivered at least once (receivers dedupe on its event id).
func (d *Dispatcher) Run(ctx context.Context) {
	if len(d.sinks) == 0 && d.subs == nil {
		return
	}
	d.warnDisabled(ctx)
	var wg sync.WaitGroup
	kicks := make([]chan struct{}, len(d.sinks))
	for i, s := range d.sinks {
		kicks[i] = make(chan struct{}, 1)
		wg.Go(func() { d.channelLoop(ctx, s, kicks[i]) })
	}
	t := time.NewTicker(d.poll)
	defer t.Stop()
	for {
		subs := d.syncSubscriptions(ctx)
		d.failures.For("alert fan-out").Report(ctx, d.fanOut(ctx, subs))
		d.kickSubscriptions()
		for _, k := range kicks {
			select {
			case k <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			d.stopSubscriptions()
			d.verifyWG.Wait()
			d.releaseClaims(ctx)
			return
		case <-t.C:
		}
	}
}

// releaseClaims hands the deliveries and verifications this dispatcher
// claimed but did not send back at shutdown, so another replica sends them
// now rather than when the claims expire.
func (d *Dispatcher) releaseClaims(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.store.ReleaseClaims(rctx, d.owner); err != nil {
		d.log.Warn("release claimed deliveries at shutdown (they go out when the claims expire)", "err", err)
	}
}

// warnDisabled says at start which channels are off, so a receiver that
// once answered 410 is not silently without alerts for good.
func (d *Dispatcher) warnDisabled(ctx context.Context) {
	disabled, err := d.store.DisabledChannels(ctx)
	if err != nil {
		d.log.Error("read disabled alert channels", "err", err)
		return
	}
	for _, s := range d.sinks {
		if reason, off := disabled[s.Name()]; off {
			d.log.Warn("alert channel is disabled: it gets no alerts until re-enabled with POST /api/admin/channels",
				"channel", s.Name(), "reason", reason)
		}
	}
}

// fanOut creates deliveries for the configured channels that are on and
// for the active subscriptions.
func (d *Dispatcher) fanOut(ctx context.Context, subs []string) error {
	disabled, err := d.store.DisabledChannels(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, ch := range subs {
		if _, off := disabled[ch]; !off { // a 410 since the subscriptions were read
			names = append(names, ch)
		}
	}
	for _, s := range d.sinks {
		if _, off := disabled[s.Name()]; !off {
			names = append(names, s.Name())
		}
	}
	return d.store.FanOut(ctx, names)
}

func (d *Dispatcher) channelLoop(ctx context.Context, s Sink, kick <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		d.drain(ctx, s)
	}
}

// drain is Drain for a channel's loop: its failures are logged once per
// interval with a count, not every poll.
func (d *Dispatcher) drain(ctx context.Context, s Sink) {
	d.failures.For("alert delivery", "channel", s.Name()).Report(ctx, d.Drain(ctx, s))
}

// Drain delivers a channel's due deliveries, oldest first. A delivery waits
// while an earlier one of the same incident is not yet sent (not due, or
// failed just now), so each incident's alerts keep their order; other
// incidents' alerts go on.
func (d *Dispatcher) Drain(ctx context.Context, s Sink) error {
	held := d.heldFor(s.Name())
	if len(held.order) > 0 {
		if d.now().Before(held.retryAt) {
			return nil // backing off: the database refused the last write
		}
		disabled, err := d.recordHeld(ctx, held)
		if err != nil {
			return err
		}
		if disabled != nil {
			return d.disable(ctx, s, *disabled)
		}
	}
	if err := d.settleFiltered(ctx, s); err != nil {
		return err
	}
	for {
		claimed := d.now()
		list, err := d.store.ClaimDeliveries(ctx, s.Name(), d.owner, d.lease, claimBatch)
		if err != nil || len(list) == 0 {
			return err
		}
		for _, del := range list {
			if d.now().After(claimed.Add(d.lease - sendTimeout)) {
				// The claim could end during the send: left to expire, so
				// that whoever claims it next is the only one to send it.
				break
			}
			a, match, err := d.filter(ctx, s, del)
			if err != nil {
				return err // the claim expires, or is taken back at the next round
			}
			var o Outcome
			if !match {
				o = Outcome{Status: linkwatch.DeliveryFiltered} // left out by its filters since settleFiltered looked
			} else {
				del.Alert = a
				o = d.attempt(ctx, s, del)
			}
			if ctx.Err() != nil {
				return nil // shutting down: the claim is handed back (releaseClaims) and the alert sent again
			}
			if d.recorder != nil && o.Status != linkwatch.DeliveryFiltered {
				d.recorder.Delivery(s.Name(), o.Status)
			}
			if err := d.store.MarkDelivery(ctx, del.ID, o); err != nil {
				d.hold(held, del.ID, o)
				return fmt.Errorf("record delivery %d (%s; kept in memory and recorded when the database takes writes again, never sent twice): %w",
					del.ID, o.Status, err)
			}
			if o.Status == linkwatch.DeliveryDisabled {
				return d.disable(ctx, s, o)
			}
		}
	}
}

// settleFiltered settles at once the pending deliveries a channel's
// filters leave out, whatever is ahead of them in their incident: they are
// never sent, so they hold nothing up and wait for nothing. It needs no
// claim: two replicas settling the same one write the same outcome. It
// looks at each delivery once per sink, not at a receiver's whole backlog
// every poll, and not at all for a sink that filters nothing; one queued
// again since is checked when claimed (Drain).
func (d *Dispatcher) settleFiltered(ctx context.Context, s Sink) error {
	if f, ok := s.(filtered); !ok || f.Filter().Empty() {
		return nil
	}
	d.mu.Lock()
	from := d.settled[s.Name()]
	d.mu.Unlock()
	after := int64(0)
	if from.sink == s {
		after = from.id
	}
	defer func() {
		d.mu.Lock()
		d.settled[s.Name()] = settledUpTo{sink: s, id: after}
		d.mu.Unlock()
	}()
	for {
		list, err := d.store.PendingDeliveries(ctx, s.Name(), after, 100)
		if err != nil || len(list) == 0 {
			return err
		}
		for _, del := range list {
			_, match, err := d.filter(ctx, s, del)
			if err != nil {
				return err
			}
			if !match {
				if err := d.store.MarkDelivery(ctx, del.ID, Outcome{Status: linkwatch.DeliveryFiltered}); err != nil {
					return fmt.Errorf("settle filtered delivery %d: %w", del.ID, err)
				}
			}
			after = del.ID
		}
	}
}

// forgetSettled drops what settleFiltered knew of a channel no longer
// delivered here (a subscription paused or deleted).
func (d *Dispatcher) forgetSettled(channel string) {
	d.mu.Lock()
	delete(d.settled, channel)
	d.mu.Unlock()
	d.failures.Forget("alert delivery", "channel", channel)
}

// heldFor returns a channel's held outcomes.
func (d *Dispatcher) heldFor(channel string) *unrecorded {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.unrecorded[channel]
	if u == nil {
		u = &unrecorded{outcomes: map[int64]Outcome{}}
		d.unrecorded[channel] = u
	}
	return u
}

// hold keeps an outcome the database refused and backs off.
func (d *Dispatcher) hold(u *unrecorded, id int64, o Outcome) {
	if _, ok := u.outcomes[id]; !ok {
		u.order = append(u.order, id)
	}
	u.outcomes[id] = o
	d.backOff(u)
}

func (d *Dispatcher) backOff(u *unrecorded) {
	u.failures++
	u.retryAt = d.now().Add(recordBackoff.Delay(u.failures))
}

// recordHeld writes the held outcomes, oldest first, and forgets each one
// the database took. It returns a disabled outcome among them: the channel
// is then to be switched off.
func (d *Dispatcher) recordHeld(ctx context.Context, u *unrecorded) (disabled *Outcome, err error) {
	for len(u.order) > 0 {
		id := u.order[0]
		o := u.outcomes[id]
		if err := d.store.MarkDelivery(ctx, id, o); err != nil {
			d.backOff(u)
			return nil, fmt.Errorf("record delivery %d (%s; still kept in memory, not sent again): %w", id, o.Status, err)
		}
		u.order = u.order[1:]
		delete(u.outcomes, id)
		if o.Status == linkwatch.DeliveryDisabled {
			disabled = &o
		}
	}
	u.failures, u.retryAt = 0, time.Time{}
	return disabled, nil
}

// disable switches a channel off at its receiver's request (410 Gone).
func (d *Dispatcher) disable(ctx context.Context, s Sink, o Outcome) error {
	if err := d.store.DisableChannel(ctx, s.Name(), o.Error); err != nil {
		return err
	}
	d.log.Warn("alert channel disabled by its receiver", "channel", s.Name(), "reason", o.Error)
	return nil
}

func (d *Dispatcher) attempt(ctx context.Context, s Sink, del Delivery) Outcome {
	now := d.now()
	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	err := s.Send(sendCtx, del)
	cancel()
	o := settle(err, now, del.FirstAt, del.Attempts)
	if o.Status == linkwatch.DeliverySent {
		d.log.Info("alert delivered", "channel", s.Name(), "event", del.Alert.EventID, "type", del.Alert.Type, "incident", del.Alert.IncidentID)
		return o
	}
	d.log.Warn("alert delivery failed", "channel", s.Name(), "event", del.Alert.EventID, "attempt", del.Attempts+1,
		"outcome", o.Status, "next_at", o.NextAt, "err", o.Error)
	return o
}

// settle is the one rule for what an attempt made at now comes to, a
// delivery's or a subscription's verification: sent without an error;
// disabled when the receiver asked never to be called again (410 Gone);
// dead when no retry will help, or GiveUpAfter has passed since the first
// attempt (firstAt, zero for this one); else pending until the backoff's
// next time after the earlier attempts, or the receiver's Retry-After if
// later.
func settle(err error, now, firstAt time.Time, attempts int) Outcome {
	if err == nil {
		return Outcome{Status: linkwatch.DeliverySent}
	}
	if firstAt.IsZero() {
		firstAt = now
	}
	se := &SendError{Retry: true, Err: err}
	errors.As(err, &se)
	o := Outcome{HTTPStatus: se.HTTPStatus, Error: err.Error()}
	switch {
	case se.Disable:
		o.Status = linkwatch.DeliveryDisabled
	case !se.Retry:
		o.Status = linkwatch.DeliveryDead
	case now.Sub(firstAt) >= GiveUpAfter:
		o.Status, o.Error = linkwatch.DeliveryDead, fmt.Sprintf("gave up after %s: %s", GiveUpAfter, o.Error)
	default:
		o.Status, o.NextAt = linkwatch.DeliveryPending, now.Add(max(deliveryBackoff.Delay(attempts+1), se.RetryAfter))
	}
	return o
}

// filter returns a delivery's alert as the sink's receiver is to get it,
// and false when its filters leave it out: the delivery is then settled as
// filtered, never sent, never pending nor failed. An alert left out only
// by min_impact still goes to a channel that has an earlier delivery of
// its incident not left out (Filter.Follow): a receiver that got an
// incident's opening gets its resolution, whatever its impact became.
func (d *Dispatcher) filter(ctx context.Context, s Sink, del Delivery) (linkwatch.Alert, bool, error) {
	if c, ok := s.(chooser); ok {
		followed := false
		var err error
		switch a := del.Alert; {
		case a.Type == linkwatch.AlertUpdated && a.Reason == string(linkwatch.EventTargetAdded):
			followed, err = d.store.Followed(ctx, s.Name(), a.IncidentID, del.ID)
		case a.Type == linkwatch.AlertMaintenanceScheduled && a.Maintenance != nil:
			// A window deleted before its announcement reached the
			// channel is no news: neither it nor its cancellation is sent.
			var gone bool
			if gone, _, err = d.store.AlertSent(ctx, s.Name(), linkwatch.MaintenanceEventID(linkwatch.AlertMaintenanceCancelled, *a.Maintenance)); gone {
				return a, false, err
			}
		case a.Type == linkwatch.AlertMaintenanceCancelled && a.Maintenance != nil:
			// Its cancellation goes where its announcement went: the
			// channel's deliveries of maintenance go out in order, so the
			// announcement was decided before it.
			_, followed, err = d.store.AlertSent(ctx, s.Name(), linkwatch.MaintenanceEventID(linkwatch.AlertMaintenanceScheduled, *a.Maintenance))
		}
		if err != nil {
			return del.Alert, false, fmt.Errorf("filter delivery %d: %w", del.ID, err)
		}
		if !c.Wants(del.Alert, followed) {
			return del.Alert, false, nil
		}
		if del.Alert.Type.IsMaintenance() {
			return del.Alert, true, nil // no incident to filter: Wants scoped it
		}
	}
	f, ok := s.(filtered)
	if !ok {
		return del.Alert, true, nil
	}
	if a, match := f.Filter().Apply(del.Alert); match {
		return a, true, nil
	}
	a, match := f.Filter().Follow().Apply(del.Alert)
	if !match {
		return del.Alert, false, nil
	}
	followed, err := d.store.Followed(ctx, s.Name(), del.Alert.IncidentID, del.ID)
	if err != nil {
		return del.Alert, false, fmt.Errorf("filter delivery %d: %w", del.ID, err)
	}
	return a, followed, nil
}
