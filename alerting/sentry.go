package alerting

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"linkwatch"

	"github.com/getsentry/sentry-go"

	"linkwatch/alerting/redact"
)

// SentryOptions configures the Sentry sink.
type SentryOptions struct {
	DSN         string
	Environment string
	Release     string
	// Dial makes every connection (serve: the SSRF guard); nil dials plainly.
	Dial DialFunc
}

// Sentry sends incidents to Sentry as issues (one issue per incident), the
// prober's heartbeat as a Crons monitor, and, through NewSentryLogHandler,
// linkwatch's own error logs.
//
// It has its own sentry.Client and Hub (never the global hub) and a
// synchronous transport, so Send knows whether Sentry accepted the event.
type Sentry struct {
	client    *sentry.Client
	hub       *sentry.Hub
	transport *sentryTransport

	logOnce sync.Once
	logQ    chan sentryLogItem
	stop    chan struct{}
	stopped sync.Once
	workers sync.WaitGroup
}

// HeartbeatSlug is the Sentry Crons monitor of the prober's heartbeat.
const HeartbeatSlug = "linkwatch-prober"

// sentryLogQueue bounds the log events waiting to be sent; more are dropped.
const sentryLogQueue = 64

// NewSentry returns a Sentry sink for the DSN.
func NewSentry(opts SentryOptions) (*Sentry, error) {
	if opts.DSN == "" {
		return nil, errors.New("alerting: sentry DSN is empty")
	}
	dsn, err := sentry.NewDsn(opts.DSN)
	if err != nil {
		// The parse error may quote the DSN: say only that it is invalid.
		return nil, errors.New("alerting: sentry DSN is invalid")
	}
	hc := newOutboundClient(opts.Dial, 30*time.Second)
	auth := "Sentry sentry_version=7, sentry_client=linkwatch/" + sentry.SDKVersion + ", sentry_key=" + dsn.GetPublicKey()
	if sk := dsn.GetSecretKey(); sk != "" {
		auth += ", sentry_secret=" + sk
	}
	t := &sentryTransport{
		hc:      hc,
		url:     dsn.GetAPIURL().String(),
		auth:    auth,
		secrets: []string{opts.DSN, dsn.GetPublicKey(), dsn.GetSecretKey()},
		waiting: map[sentry.EventID]*sentryAttempt{},
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:                    opts.DSN,
		Environment:            opts.Environment,
		Release:                opts.Release,
		Transport:              t,
		DisableTelemetryBuffer: true, // events go straight to t.SendEvent, on the caller's goroutine
		DisableClientReports:   true,
		MaxBreadcrumbs:         -1,
	})
	if err != nil {
		return nil, redact.Err(err, t.secrets...)
	}
	return &Sentry{
		client:    client,
		hub:       sentry.NewHub(client, sentry.NewScope()),
		transport: t,
		stop:      make(chan struct{}),
	}, nil
}

// Name implements Sink.
func (s *Sentry) Name() string { return linkwatch.SentryChannel }

// Close stops the log worker and releases the client. Log records still
// queued are dropped.
func (s *Sentry) Close() {
	s.stopped.Do(func() {
		close(s.stop)
		s.workers.Wait()
		s.client.Close()
	})
}

// Send implements Sink: one Sentry issue per incident, with an event id
// derived from the alert's, so a retried delivery is not a second event.
func (s *Sentry) Send(ctx context.Context, d Delivery) error {
	return s.capture(ctx, sentryEvent(d), "error")
}

// Heartbeat sends a check-in of the prober's monitor: ok when the rounds
// ran on time. Sentry monitors have a one-minute resolution, so call it
// once a minute. Check-ins carry no text: detail only labels a failure.
func (s *Sentry) Heartbeat(ctx context.Context, ok bool, detail string) error {
	status := sentry.CheckInStatusOK
	if !ok {
		status = sentry.CheckInStatusError
	}
	ev := s.client.EventFromCheckIn(&sentry.CheckIn{MonitorSlug: HeartbeatSlug, Status: status}, &sentry.MonitorConfig{
		Schedule:      sentry.CrontabSchedule("* * * * *"),
		CheckInMargin: 1,
		MaxRuntime:    1,
	})
	ev.EventID = randomEventID()
	if err := s.capture(ctx, ev, "monitor"); err != nil {
		var se *SendError
		if errors.As(err, &se) {
			se.Err = fmt.Errorf("heartbeat %s (%s): %w", status, clip(detail, 200), se.Err)
			return se
		}
		return fmt.Errorf("heartbeat %s (%s): %w", status, clip(detail, 200), err)
	}
	return nil
}

// capture sends ev through the hub and returns the transport's verdict.
func (s *Sentry) capture(ctx context.Context, ev *sentry.Event, category string) error {
	a := &sentryAttempt{ctx: ctx, category: category, done: make(chan struct{})}
	if !s.transport.register(ev.EventID, a) {
		return &SendError{Retry: true, Err: errors.New("sentry: the same event is already being sent")}
	}
	defer s.transport.unregister(ev.EventID)
	s.hub.CaptureEvent(ev)
	select {
	case <-a.done: // SendEvent runs on this goroutine, before CaptureEvent returns
		return a.err
	default:
		return &SendError{Err: errors.New("sentry: event dropped before sending")}
	}
}

// sentryEventID derives a Sentry event id (32 hex digits) from the alert's
// own, stable across retries of the delivery.
func sentryEventID(d Delivery) sentry.EventID {
	src := d.Alert.EventID
	if src == "" {
		src = "delivery:" + strconv.FormatInt(d.ID, 10)
	}
	return sentryID(src)
}

// sentryID derives a Sentry event id (32 hex digits) from an event id of
// ours.
func sentryID(src string) sentry.EventID {
	sum := sha256.Sum256([]byte("linkwatch/sentry/" + src))
	return sentry.EventID(hex.EncodeToString(sum[:16]))
}

// SendStorage sends a storage event. Every replica's events of a database
// share one fingerprint, so they are one Sentry issue however many
// replicas report an outage: Sentry notifies when the issue is new, or
// comes back after it was resolved (the next outage), not per replica.
// storage.reachable is an info event in the same issue, so its timeline
// holds each outage's start and end.
func (s *Sentry) SendStorage(ctx context.Context, e StorageEvent) error {
	head, body := storageText(e)
	ev := sentry.NewEvent()
	ev.EventID = sentryID(e.EventID)
	ev.Level = sentry.LevelError
	if e.Type == linkwatch.AlertStorageReachable {
		ev.Level = sentry.LevelInfo
	}
	ev.Message = head
	ev.Logger = "linkwatch.storage"
	ev.Fingerprint = []string{"linkwatch-storage", e.Database}
	ev.Timestamp = e.At
	ev.Tags = map[string]string{"alert_type": string(e.Type), "replica": clip(e.Replica.ID, 200)}
	if e.Replica.Region != "" {
		ev.Tags["region"] = e.Replica.Region
	}
	storage := sentry.Context{"database": e.Database, "since": e.Since.UTC().Format(time.RFC3339), "down_ms": linkwatch.Millis(e.Down()),
		"replica": e.Replica.ID, "summary": body}
	if e.Error != "" {
		storage["error"] = e.Error
	}
	ev.Contexts["storage"] = storage
	return s.capture(ctx, ev, "error")
}

func randomEventID() sentry.EventID {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return sentry.EventID(hex.EncodeToString(b[:]))
}

// maxSentryAffected caps the affected links listed in the incident context.
const maxSentryAffected = 20

func sentryEvent(d Delivery) *sentry.Event {
	a := d.Alert
	inc := a.Incident
	ev := sentry.NewEvent()
	ev.EventID = sentryEventID(d)
	// A degraded incident (minor: rate limited, a certificate expiring
	// soon) is a warning, never a page on its own; a resolution is news.
	switch {
	case a.Type == linkwatch.AlertResolved:
		ev.Level = sentry.LevelInfo
	case inc.Impact == linkwatch.ImpactMinor || inc.Impact == linkwatch.ImpactNone:
		ev.Level = sentry.LevelWarning
	default:
		ev.Level = sentry.LevelError
	}
	ev.Message = inc.Title
	if ev.Message == "" {
		ev.Message = inc.Key
	}
	if ups := a.Updates(); len(ups) > 0 {
		for _, u := range ups {
			ev.Message += " — " + string(u.Status) + ": " + clip(u.Body, 500)
		}
	} else if a.Reason == string(linkwatch.EventAcknowledged) {
		ev.Message += " — acknowledged by " + inc.AcknowledgedBy
	}
	ev.Logger = "linkwatch.incidents"
	// One Sentry issue per incident: a host incident that grew from one
	// destination stays one issue, and a destination failing again next
	// week is a new one. The correlation key stays searchable as a tag.
	ev.Fingerprint = []string{"linkwatch-incident", strconv.FormatInt(inc.ID, 10)}
	if a.Reason == linkwatch.ReasonTest {
		// Every test is one issue of its own kind, news rather than an error.
		ev.Level, ev.Fingerprint = sentry.LevelInfo, []string{"linkwatch-test"}
	}
	if !a.CreatedAt.IsZero() {
		ev.Timestamp = a.CreatedAt
	}
	ev.Tags = map[string]string{"alert_type": string(a.Type)}
	if inc.Cause != "" {
		ev.Tags["cause"] = string(inc.Cause)
	}
	if inc.Host != "" {
		ev.Tags["host"] = inc.Host
	}
	if inc.Key != "" {
		ev.Tags["incident_key"] = clip(inc.Key, 200) // Sentry tag values are at most 200 characters
	}
	if inc.Kind != "" {
		ev.Tags["component"] = string(inc.Kind)
	}

	affected := make([]map[string]any, 0, min(len(inc.Affected), maxSentryAffected))
	for _, af := range inc.Affected[:min(len(inc.Affected), maxSentryAffected)] {
		m := map[string]any{"page": af.Page, "link": af.Link, "url": af.URL}
		if af.Fallback != "" {
			m["fallback"] = af.Fallback
		}
		if af.Diverted {
			m["diverted"] = true // visitors are being sent to the fallback
		}
		affected = append(affected, m)
	}
	incCtx := sentry.Context{
		"id":             inc.ID,
		"key":            inc.Key,
		"summary":        inc.Summary,
		"status":         string(inc.Status),
		"impact":         string(inc.Impact),
		"flapping":       inc.Flapping,
		"affected_count": len(inc.Affected),
		"affected":       affected,
	}
	if !inc.StartedAt.IsZero() {
		incCtx["started_at"] = inc.StartedAt.UTC().Format(time.RFC3339)
	}
	if a.Reason != "" {
		incCtx["reason"] = a.Reason
	}
	if inc.AcknowledgedBy != "" {
		incCtx["acknowledged_by"] = inc.AcknowledgedBy
		incCtx["acknowledged_at"] = inc.AcknowledgedAt.UTC().Format(time.RFC3339)
	}
	if len(a.Added) > 0 {
		incCtx["added"] = affectedList(a.Added, maxSentryAffected)
	}
	if f := fallbackLines(inc.Affected, maxSentryAffected); f != "" {
		incCtx["fallback"] = f
	}
	if u := a.Update; u != nil {
		incCtx["update_status"] = string(u.Status)
		incCtx["update"] = u.Body
	}
	if len(a.Earlier) > 0 {
		incCtx["earlier_updates"] = a.Earlier // grouped within alerts.group_interval
	}
	ev.Contexts["incident"] = incCtx

	if r := a.LastResult; r != nil {
		hops := make([]map[string]any, 0, len(r.Hops))
		for _, h := range r.Hops {
			hops = append(hops, map[string]any{
				"url":      h.URL,
				"status":   h.StatusCode,
				"location": h.Location,
				"phases_ms": map[string]float64{
					"dns":        sentryMS(h.Phases.DNS),
					"connect":    sentryMS(h.Phases.Connect),
					"tls":        sentryMS(h.Phases.TLS),
					"first_byte": sentryMS(h.Phases.FirstByte),
					"transfer":   sentryMS(h.Phases.Transfer),
				},
			})
		}
		evidence := sentry.Context{
			"url":         r.URL,
			"status_code": r.StatusCode,
			"cause":       string(r.Cause),
			"summary":     r.Summary,
			"error":       clip(r.Error, 1000),
			"final_url":   r.FinalURL,
			"latency_ms":  sentryMS(r.Latency),
			"hops":        hops,
		}
		if !r.Start.IsZero() {
			evidence["checked_at"] = r.Start.UTC().Format(time.RFC3339)
		}
		ev.Contexts["evidence"] = evidence
	}
	return ev
}

func sentryMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
