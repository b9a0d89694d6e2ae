package alerting

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"linkwatch"
)

// SubscriptionStore is what the dispatcher needs to deliver to the
// subscriptions made through the admin API.
type SubscriptionStore interface {
	ListSubscriptions(ctx context.Context) ([]linkwatch.Subscription, error)
	// ClaimVerification claims a subscription's due verification for owner
	// until lease has passed: false when none is due or another holds it,
	// so of replicas sharing the database, one sends it.
	ClaimVerification(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error)
	// RecordVerification records an attempt's outcome: sent, pending (due
	// again at NextAt), dead or disabled, as a delivery's.
	RecordVerification(ctx context.Context, id int64, o Outcome) error
}

// NewSecret returns a fresh signing secret in the Standard Webhooks form:
// "whsec_" and the base64 of 32 random bytes.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// filtered is a sink whose receiver chose what it gets.
type filtered interface {
	Filter() linkwatch.Filter
}

// subscribers runs a loop per active subscription. The set is read again
// from the database every poll, so a subscription made, paused, resumed,
// deleted or rotated through any replica takes effect here within a poll,
// and a restart loses nothing.
type subscribers struct {
	store SubscriptionStore
	dial  DialFunc
	// mail and emails: the status page's email subscribers, when
	// alerts.email is set (MailSubscribers).
	mail   *Mailer
	emails EmailStore

	mu         sync.Mutex
	running    map[string]*subLoop // by channel
	verifying  map[int64]bool
	confirming map[int64]bool
}

// subLoop is one subscription's delivery loop. Its sink is swapped in
// place when the subscription changes (filters, secrets), without
// interrupting a send in flight.
type subLoop struct {
	mu      sync.Mutex
	sink    Sink
	version string // what the sink was made from (sinkVersion)
	kick    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

func (l *subLoop) current() Sink {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sink
}

// Subscribe makes the dispatcher deliver to the subscriptions in store as
// well as its configured sinks, dialing with dial (serve: the SSRF guard,
// so a subscription URL whose DNS turns private is never called).
func (d *Dispatcher) Subscribe(store SubscriptionStore, dial DialFunc) {
	d.subs = &subscribers{store: store, dial: dial, running: map[string]*subLoop{}, verifying: map[int64]bool{}, confirming: map[int64]bool{}}
}

// wanted is a channel the database says should have a loop: what its sink
// is made from (version), and how to make it.
type wanted struct {
	version string
	make    func() (Sink, error)
	kind    string // for the log: "webhook subscription", "email subscriber"
}

// syncSubscriptions starts and stops the subscriptions' loops to match
// the database, sends the verifications due, and returns the channels to
// fan out to.
func (d *Dispatcher) syncSubscriptions(ctx context.Context) []string {
	sb := d.subs
	if sb == nil {
		return nil
	}
	var list []linkwatch.Subscription
	var err error
	if sb.store != nil {
		list, err = sb.store.ListSubscriptions(ctx)
		d.failures.For("read webhook subscriptions").Report(ctx, err)
	}
	if err != nil {
		// Keep delivering to the ones known: a database hiccup is not a
		// reason to stop.
		return sb.runningNames()
	}
	now := d.now()
	active := map[string]wanted{}
	for _, s := range list {
		if s.VerifyDue && !now.Before(s.VerifyNextAt) {
			d.startVerify(ctx, s)
		}
		if s.State() == linkwatch.SubscriptionActive {
			active[s.Channel()] = wanted{version: sinkVersion(s, now), kind: "webhook subscription",
				make: func() (Sink, error) { return NewSubscriptionWebhook(s, sb.dial, d.now) }}
		}
	}
	if !d.syncEmail(ctx, active) {
		return sb.runningNames()
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	for ch, l := range sb.running {
		if _, ok := active[ch]; !ok {
			l.cancel()
			<-l.done
			delete(sb.running, ch)
			d.forgetSettled(ch)
			d.log.Info("subscription stopped", "channel", ch)
		}
	}
	names := make([]string, 0, len(active))
	for ch, w := range active {
		version := w.version
		l := sb.running[ch]
		if l != nil && l.version == version {
			names = append(names, ch)
			continue
		}
		wh, err := w.make()
		if err != nil {
			// Not fanned out to while it cannot be sent: nothing piles up.
			d.log.Error(w.kind, "channel", ch, "err", err)
			continue
		}
		names = append(names, ch)
		if l != nil {
			l.mu.Lock()
			l.sink, l.version = wh, version
			l.mu.Unlock()
			continue
		}
		loopCtx, cancel := context.WithCancel(ctx)
		l = &subLoop{sink: wh, version: version, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
		sb.running[ch] = l
		go func() {
			defer close(l.done)
			for {
				select {
				case <-loopCtx.Done():
					return
				case <-l.kick:
				}
				d.drain(loopCtx, l.current())
			}
		}()
		d.log.Info(w.kind+" started", "channel", ch)
	}
	return names
}

// runningNames are the channels with a loop.
func (sb *subscribers) runningNames() []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	names := make([]string, 0, len(sb.running))
	for ch := range sb.running {
		names = append(names, ch)
	}
	return names
}

// sinkVersion is everything a subscription's sink is made from, so a
// change to any of it (URL, filters, secrets, the overlap ending) makes a
// new sink, however close together two changes come.
func sinkVersion(s linkwatch.Subscription, now time.Time) string {
	f, _ := json.Marshal(s.Filter)
	prev := ""
	if s.PreviousSecret != "" && now.Before(s.PreviousUntil) {
		prev = s.PreviousSecret + "@" + s.PreviousUntil.String()
	}
	return strings.Join([]string{s.URL, s.Secret, prev, string(f)}, "\x00")
}

// kickSubscriptions wakes every subscription loop.
func (d *Dispatcher) kickSubscriptions() {
	if d.subs == nil {
		return
	}
	d.subs.mu.Lock()
	defer d.subs.mu.Unlock()
	for _, l := range d.subs.running {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// stopSubscriptions ends every subscription loop, for shutdown.
func (d *Dispatcher) stopSubscriptions() {
	if d.subs == nil {
		return
	}
	d.subs.mu.Lock()
	defer d.subs.mu.Unlock()
	for ch, l := range d.subs.running {
		l.cancel()
		<-l.done
		delete(d.subs.running, ch)
	}
}

// startVerify sends a subscription's verification event, once at a time
// here and, by a claim in the database, across replicas. An attempt that
// fails is settled as a delivery's (settle): tried again with the same
// backoff until GiveUpAfter has passed since the first, never again after
// a 4xx that no retry changes, and a 410 Gone disables the subscription.
func (d *Dispatcher) startVerify(ctx context.Context, s linkwatch.Subscription) {
	sb := d.subs
	sb.mu.Lock()
	if sb.verifying[s.ID] {
		sb.mu.Unlock()
		return
	}
	sb.verifying[s.ID] = true
	sb.mu.Unlock()
	d.verifyWG.Go(func() {
		defer func() {
			sb.mu.Lock()
			delete(sb.verifying, s.ID)
			sb.mu.Unlock()
		}()
		claimed, err := sb.store.ClaimVerification(ctx, s.ID, d.owner, d.lease)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("claim webhook subscription verification", "subscription", s.ID, "err", err)
			}
			return
		}
		if !claimed {
			return // another replica is sending it, or it was sent since the list was read, or its next attempt is later
		}
		now := d.now()
		o := settle(d.verify(ctx, s), now, s.VerifyFirstAt, s.VerifyAttempts)
		if ctx.Err() != nil {
			return // shutting down: the claim is handed back (releaseClaims), another replica or a restart sends it
		}
		if err := sb.store.RecordVerification(ctx, s.ID, o); err != nil && !errors.Is(err, linkwatch.ErrNotFound) {
			d.log.Error("record webhook subscription verification", "subscription", s.ID, "err", err)
			return
		}
		switch o.Status {
		case linkwatch.DeliverySent:
			d.log.Info("webhook subscription verified", "subscription", s.ID)
		case linkwatch.DeliveryPending:
			d.log.Warn("webhook subscription not verified yet: trying again", "subscription", s.ID,
				"attempt", s.VerifyAttempts+1, "next_at", o.NextAt, "err", o.Error)
		case linkwatch.DeliveryDisabled:
			d.log.Warn("webhook subscription disabled by its receiver: it answered its verification with 410 Gone",
				"subscription", s.ID, "err", o.Error)
		default:
			d.log.Warn("webhook subscription not verified: retry with POST /api/admin/subscriptions/{id}/verify",
				"subscription", s.ID, "attempt", s.VerifyAttempts+1, "err", o.Error)
		}
	})
}

// verify sends s its subscription.verify event and returns why it was not
// answered with 2xx, if it was not.
func (d *Dispatcher) verify(ctx context.Context, s linkwatch.Subscription) error {
	wh, err := NewSubscriptionWebhook(s, d.subs.dial, d.now)
	if err != nil {
		return &SendError{Err: err} // a secret that cannot sign: no retry changes it
	}
	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	return wh.Verify(sendCtx, s.ID)
}
