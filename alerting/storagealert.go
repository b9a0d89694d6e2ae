package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"linkwatch"
	"linkwatch/errlog"
	"linkwatch/incidents"
)

// StorageEvent is one replica's news about its database: it cannot
// commit a write (storage.unreachable), or it can again
// (storage.reachable). It is made and sent in memory: the outbox is in
// the database it is about.
type StorageEvent struct {
	Type linkwatch.AlertType
	// EventID is the webhook-id: stable across retries, one per replica,
	// outage and type.
	EventID string
	// Replica is who says so: replicas cannot agree on anything while
	// their database is out of reach, so each speaks for itself.
	Replica linkwatch.Member
	// Database names the database for people: "postgres
	// db.internal:5432", "sqlite /data/linkwatch.db".
	Database string
	// Since is when the replica's writes started failing: the outage's
	// start, in both events.
	Since time.Time
	// At is when the event was made: the outage declared, or over.
	At time.Time
	// Error is the last failure (storage.unreachable), free of secrets:
	// storage's errors name hosts and files, never a DSN.
	Error string
}

// Down is how long the outage lasted (storage.reachable) or had lasted
// when it was declared (storage.unreachable).
func (e StorageEvent) Down() time.Duration { return e.At.Sub(e.Since) }

// StorageSender is a channel that carries the storage alerts: Slack,
// Sentry and the config file's webhooks.
type StorageSender interface {
	Name() string
	// SendStorage sends one event. A *SendError says whether to retry;
	// any other error is retried.
	SendStorage(ctx context.Context, e StorageEvent) error
}

// DefaultDatabaseOutageAfter is how long storage checks fail before the
// outage is an alert, unless alerts.database_outage_after says otherwise.
const DefaultDatabaseOutageAfter = 30 * time.Second

// StorageAlertOptions configure StorageAlerts.
type StorageAlertOptions struct {
	// After is how long storage checks must fail, two of them at least,
	// before the outage is an alert: one slow write or a failover's
	// seconds are not.
	After    time.Duration
	Replica  linkwatch.Member
	Database string
	// Senders are the channels. One with a Filter gets the events its
	// filter lets through (linkwatch.Filter.ApplyStorage).
	Senders []StorageSender
	Log     *slog.Logger
	Now     func() time.Time // default time.Now
}

// StorageAlerts turns storage checks into the database outage alerts,
// and sends them straight to the channels, with retries, from memory:
// one storage.unreachable when the checks have failed for After, one
// storage.reachable at the first check that passes after it, per replica
// and outage. A replica that cannot reach its database cannot coordinate
// with the others, so each sends its own pair, naming itself; Sentry
// groups them into one issue per database (see Sentry.SendStorage).
type StorageAlerts struct {
	opts   StorageAlertOptions
	queues []*storageQueue

	mu           sync.Mutex
	failingSince time.Time // the first failed check since the last that passed; zero while they pass
	failures     int       // failed checks since then
	outage       time.Time // when the declared outage started; zero when none is
}

// storageQueueLen bounds the events waiting for one channel: a receiver
// down for days keeps the latest outages' news, not every one.
const storageQueueLen = 16

// storageQueue is one channel's events, sent in order.
type storageQueue struct {
	sender StorageSender
	filter *linkwatch.Filter // nil: every event
	kick   chan struct{}

	mu     sync.Mutex
	events []StorageEvent
}

// NewStorageAlerts returns the database outage alerts of opts.Replica.
func NewStorageAlerts(opts StorageAlertOptions) *StorageAlerts {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &StorageAlerts{opts: opts}
	for _, snd := range opts.Senders {
		q := &storageQueue{sender: snd, kick: make(chan struct{}, 1)}
		if f, ok := snd.(interface{ Filter() linkwatch.Filter }); ok {
			filter := f.Filter()
			q.filter = &filter
		}
		s.queues = append(s.queues, q)
	}
	return s
}

// Observe takes one storage check's verdict: nil, storage can commit a
// write; else why not.
func (s *StorageAlerts) Observe(ctx context.Context, err error) {
	now := s.opts.Now()
	s.mu.Lock()
	var e *StorageEvent
	switch {
	case err != nil:
		if s.failingSince.IsZero() {
			s.failingSince = now
		}
		s.failures++
		if s.outage.IsZero() && s.failures >= 2 && now.Sub(s.failingSince) >= s.opts.After {
			s.outage = s.failingSince
			e = s.event(linkwatch.AlertStorageUnreachable, now)
			e.Error = err.Error()
		}
	default:
		if !s.outage.IsZero() {
			e = s.event(linkwatch.AlertStorageReachable, now)
			s.outage = time.Time{}
		}
		s.failingSince, s.failures = time.Time{}, 0
	}
	s.mu.Unlock()
	if e == nil {
		return
	}
	if e.Type == linkwatch.AlertStorageUnreachable {
		s.opts.Log.WarnContext(ctx, "database outage: alerting", "database", s.opts.Database, "since", e.Since, "err", err)
	} else {
		s.opts.Log.InfoContext(ctx, "database outage over: alerting", "database", s.opts.Database, "lasted", e.Down().Round(time.Second))
	}
	for _, q := range s.queues {
		if q.filter == nil || q.filter.ApplyStorage(e.Type) {
			q.push(*e, s.opts.Log)
		}
	}
}

// event makes the current outage's event of type t. The caller holds s.mu.
func (s *StorageAlerts) event(t linkwatch.AlertType, now time.Time) *StorageEvent {
	kind := map[linkwatch.AlertType]string{linkwatch.AlertStorageUnreachable: "unreachable", linkwatch.AlertStorageReachable: "reachable"}[t]
	return &StorageEvent{Type: t, Replica: s.opts.Replica, Database: s.opts.Database, Since: s.outage, At: now,
		EventID: "msg_storage_" + s.opts.Replica.ID + "_" + strconv.FormatInt(s.outage.UnixMilli(), 10) + "_" + kind}
}

func (q *storageQueue) push(e StorageEvent, log *slog.Logger) {
	q.mu.Lock()
	if len(q.events) == storageQueueLen {
		log.Warn("database outage alert not sent: too many waiting for the channel", "channel", q.sender.Name(), "type", q.events[0].Type, "event_id", q.events[0].EventID)
		q.events = q.events[1:]
	}
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

func (q *storageQueue) next() (StorageEvent, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.events) == 0 {
		return StorageEvent{}, false
	}
	e := q.events[0]
	q.events = q.events[1:]
	return e, true
}

// Run sends the events to each channel, in order, until ctx ends. Events
// still waiting then are dropped: they were about this process.
func (s *StorageAlerts) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, q := range s.queues {
		wg.Go(func() {
			fails := &errlog.Reporter{Log: s.opts.Log, Msg: "database outage alert not sent yet; retrying", Attrs: []any{"channel", q.sender.Name()}, Now: s.opts.Now}
			for {
				select {
				case <-ctx.Done():
					return
				case <-q.kick:
				}
				for e, ok := q.next(); ok && ctx.Err() == nil; e, ok = q.next() {
					s.deliver(ctx, q.sender, e, fails)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// deliver sends e until it is delivered, refused for good, GiveUpAfter
// has passed since it was made, or ctx ends, with the deliveries'
// backoff.
func (s *StorageAlerts) deliver(ctx context.Context, snd StorageSender, e StorageEvent, fails *errlog.Reporter) {
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err := snd.SendStorage(sctx, e)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			fails.OK(ctx)
			s.opts.Log.InfoContext(ctx, "database outage alert sent", "channel", snd.Name(), "type", e.Type, "event_id", e.EventID)
			return
		}
		var se *SendError
		final := errors.As(err, &se) && !se.Retry
		if final || s.opts.Now().Sub(e.At) >= GiveUpAfter {
			s.opts.Log.ErrorContext(ctx, "database outage alert not sent", "channel", snd.Name(), "type", e.Type, "event_id", e.EventID, "err", err)
			return
		}
		wait := deliveryBackoff.Delay(attempt)
		if se != nil {
			wait = max(wait, se.RetryAfter)
		}
		fails.Error(ctx, err, "type", e.Type, "retry_in", wait.Round(time.Second))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// storageText is the news in words, shared by the channels: a heading
// and a paragraph.
func storageText(e StorageEvent) (head, body string) {
	who := e.Replica.ID
	if e.Replica.Region != "" {
		who += " (" + e.Replica.Region + ")"
	}
	since := e.Since.UTC().Format(time.RFC1123)
	if e.Type == linkwatch.AlertStorageReachable {
		return fmt.Sprintf("Database reachable again from %s after %s", who, incidents.HumanDuration(e.Down())),
			fmt.Sprintf("linkwatch on %s writes to its database (%s) again, after %s out of reach (since %s). Held clicks are written; checks, incidents and alerts resume.",
				who, e.Database, incidents.HumanDuration(e.Down()), since)
	}
	return "Database unreachable from " + who,
		fmt.Sprintf("linkwatch on %s cannot write to its database (%s) since %s: %s. Redirects and pages are served from memory and clicks are held; checks are not recorded, no incident opens or resolves, other alerts wait, and the status page shows its last state.",
			who, e.Database, since, e.Error)
}

// Every configured channel carries the storage alerts.
var (
	_ StorageSender = (*Slack)(nil)
	_ StorageSender = (*Sentry)(nil)
	_ StorageSender = (*Webhook)(nil)
)
