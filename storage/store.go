// Package storage keeps linkwatch's state in a database: the Store
// interface, the values it speaks in, the rules of storing (which raw
// results are kept, how a minute is rolled up, how results are batched,
// how a read skips unknown spans), and DB, the one implementation of
// Store, written once for SQLite (storage/sqlite) and PostgreSQL
// (storage/postgres), which open it with their Dialect. The contract
// suite in storage/storagetest runs on both.
package storage

import (
	"context"
	"encoding/json"
	"time"

	"linkwatch"
	"linkwatch/checker/shard"
	"linkwatch/hub"
	"linkwatch/incidents"
)

// Store is everything the program needs from a backend: the prober's
// results and their rollups, incidents and the outbox written together,
// alert deliveries and channels, maintenance, the admin API's changes,
// clicks, feed ids, flapping history and health. It speaks only in domain
// types, so nothing that stores depends on an alert SDK or a router.
type Store interface {
	// Results and rollups.
	SaveResults(ctx context.Context, results []linkwatch.Result) error
	RollUp(ctx context.Context) error
	Rollups(ctx context.Context, targetKey string, period time.Duration, from, to time.Time) ([]Rollup, error)
	// The reads of the status page leave out the checks of the unknown
	// spans (the prober was offline: incidents.UnknownSpans), as Reads
	// says.
	LatencyHistograms(ctx context.Context, keys []string, from, to time.Time, unknown []linkwatch.Span) (map[string]Rollup, error)
	LatencySeries(ctx context.Context, keys []string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string][]Rollup, error)
	DailyStats(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) ([]DayStat, error)
	// SettledHours returns the hours whose hour rollups are written for
	// good: (after, until), which a reader may keep while they stay in it.
	SettledHours(ctx context.Context) (after, until time.Time, err error)
	Prune(ctx context.Context, keep Retention) (int64, error)

	// Incidents, their timeline and the outbox (incidents.Store: a change,
	// its events and its alert in one transaction), flapping history.
	incidents.Store
	ListIncidents(ctx context.Context, q linkwatch.IncidentQuery) ([]linkwatch.Incident, error)
	Incident(ctx context.Context, id int64) (linkwatch.Incident, error)
	IncidentEvents(ctx context.Context, id int64) ([]linkwatch.Event, error)
	IncidentEvidence(ctx context.Context, id int64) ([]json.RawMessage, error)
	IncidentUpdates(ctx context.Context, id int64) ([]linkwatch.Update, error)
	Outbox(ctx context.Context, limit int) ([]linkwatch.Alert, error)

	// The regions' vote (probe.region): verdicts and canary rows.
	incidents.RegionStore

	// The admin API's changes and maintenance windows (an acknowledgement
	// is an incident change: Record, Change.Acknowledged).
	EditPostmortem(ctx context.Context, id int64, pm linkwatch.Postmortem) (linkwatch.Incident, error)
	CreateMaintenance(ctx context.Context, m linkwatch.Maintenance) (linkwatch.Maintenance, error)
	ListMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error)
	DeleteMaintenance(ctx context.Context, id int64) error
	CreateRecurringMaintenance(ctx context.Context, r linkwatch.RecurringMaintenance) (linkwatch.RecurringMaintenance, error)
	ListRecurringMaintenance(ctx context.Context) ([]linkwatch.RecurringMaintenance, error)
	DeleteRecurringMaintenance(ctx context.Context, id int64) error
	// NoticeMaintenance writes the maintenance alerts of windows started
	// and ended by now, once each (the jobs lock's holder runs it).
	NoticeMaintenance(ctx context.Context) error

	// Alert groups released, deliveries and channels (the dispatcher's queue).
	FanOut(ctx context.Context, channels []string) error
	PendingDeliveries(ctx context.Context, channel string, after int64, limit int) ([]linkwatch.Delivery, error)
	// ClaimDeliveries claims a channel's due deliveries for owner until
	// lease has passed: one replica sends each, an incident's in order.
	ClaimDeliveries(ctx context.Context, channel, owner string, lease time.Duration, limit int) ([]linkwatch.Delivery, error)
	ReleaseClaims(ctx context.Context, owner string) error
	// Followed reports whether a channel has a delivery of the incident
	// before the delivery before that its filters did not leave out.
	Followed(ctx context.Context, channel string, incidentID, before int64) (bool, error)
	// AlertSent reports whether the outbox holds an alert, and whether a
	// channel's delivery of it was sent.
	AlertSent(ctx context.Context, channel, eventID string) (written, sent bool, err error)
	MarkDelivery(ctx context.Context, id int64, o linkwatch.Outcome) error
	DisableChannel(ctx context.Context, channel, reason string) error
	EnableChannel(ctx context.Context, channel string) error
	DisabledChannels(ctx context.Context) (map[string]string, error)
	ChannelStates(ctx context.Context, names []string) ([]linkwatch.ChannelState, error)
	OutboxBacklog(ctx context.Context) (linkwatch.Backlog, error)
	ThreadRef(ctx context.Context, incidentID int64, channel string) (string, error)
	SetThreadRef(ctx context.Context, incidentID int64, channel, ref string) error
	// ClaimNonce refuses a signed request served before (Slack's
	// interactions), on any replica.
	ClaimNonce(ctx context.Context, nonce string, ttl time.Duration) (bool, error)

	// Subscriptions made through the admin API (every replica reads them
	// from the database), the delivery log, redelivery and replay.
	CreateSubscription(ctx context.Context, s linkwatch.Subscription) (linkwatch.Subscription, error)
	Subscription(ctx context.Context, id int64) (linkwatch.Subscription, error)
	ListSubscriptions(ctx context.Context) ([]linkwatch.Subscription, error)
	UpdateSubscription(ctx context.Context, id int64, p linkwatch.SubscriptionPatch) (linkwatch.Subscription, error)
	DeleteSubscription(ctx context.Context, id int64) error
	RotateSecret(ctx context.Context, id int64, secret string) (linkwatch.Subscription, error)
	RequestVerification(ctx context.Context, id int64) (linkwatch.Subscription, error)
	ClaimVerification(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error)
	RecordVerification(ctx context.Context, id int64, o linkwatch.Outcome) error
	DeliveryLog(ctx context.Context, q linkwatch.DeliveryQuery) ([]linkwatch.DeliveryLog, error)
	Redeliver(ctx context.Context, id int64) (linkwatch.DeliveryLog, error)
	Replay(ctx context.Context, channel string, since time.Time, limit int, match func(linkwatch.Alert) bool) (n int, next time.Time, err error)

	// The operator console's sessions (every replica honours them; signing
	// out ends one everywhere) and its audit log.
	CreateSession(ctx context.Context, s linkwatch.ConsoleSession) error
	Session(ctx context.Context, id string) (linkwatch.ConsoleSession, error)
	TouchSession(ctx context.Context, s linkwatch.ConsoleSession) error
	EndSession(ctx context.Context, id string) error
	Audit(ctx context.Context, e linkwatch.AuditEntry) (linkwatch.AuditEntry, error)
	AuditLog(ctx context.Context, q linkwatch.AuditQuery) ([]linkwatch.AuditEntry, error)
	// The status page's email subscribers (statuspage.Subscribers, the
	// dispatcher's alerting.EmailStore, the admin API's export).
	RequestEmailSubscription(ctx context.Context, address, page string, maxPending int) error
	EmailSubscriber(ctx context.Context, id int64) (linkwatch.EmailSubscriber, error)
	ListEmailSubscribers(ctx context.Context) ([]linkwatch.EmailSubscriber, error)
	CountEmailSubscribers(ctx context.Context) (map[string]int, error)
	ConfirmEmailSubscriber(ctx context.Context, id int64) (linkwatch.EmailSubscriber, error)
	SetEmailScope(ctx context.Context, id int64, page string) error
	DeleteEmailSubscriber(ctx context.Context, id int64) error
	ClaimConfirmation(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error)
	RecordConfirmation(ctx context.Context, id int64, o linkwatch.Outcome) error

	// Clicks and the feed's stable ids.
	AddClicks(ctx context.Context, hour time.Time, counts map[hub.LinkKey]hub.ClickCount) error
	ClickTotals(ctx context.Context) (map[hub.LinkKey]int64, error)
	ClickCounts(ctx context.Context, q hub.ClickQuery) ([]hub.ClickBucket, error)
	FeedIDs(ctx context.Context, incidentIDs []int64) (feed string, byIncident map[int64]string, err error)

	// Replicas: heartbeat rows (shard.Store), and session locks that a
	// process holds until it releases them or dies (the periodic jobs run
	// on the holder of "jobs").
	shard.Store
	LiveMembers(ctx context.Context, within time.Duration) ([]linkwatch.Member, error)
	HoldLock(ctx context.Context, name string) (bool, error)
	ReleaseLock(name string)

	// Now is the database's time as this process reckons it (DB.Now):
	// what replicas stamp and compare shared times by.
	Now() time.Time

	// Health, for readiness: a read, a committed write, the last refused write.
	Ping(ctx context.Context) error
	WriteProbe(ctx context.Context) error
	LastWriteFault() WriteFault
	Close() error
}

// WriteFault is a write transaction the database refused: a full disk, a
// read-only file, a lock held too long. Errors of the caller's own making
// (a missing row, a cancelled context) are not faults.
type WriteFault struct {
	At  time.Time
	Err error
	// Count is how many writes the database has refused since Open, this
	// one included (a metric).
	Count int64
}
