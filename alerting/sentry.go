package alerting

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/getsentry/sentry-go"

	"linkwatch/incidents"
)

// SentryOptions configures the Sentry sink.
type SentryOptions struct {
	DSN         string
	Environment string
	Release     string
	// HTTPClient sends the envelopes; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
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
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
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
		return nil, scrub(err, t.secrets...)
	}
	return &Sentry{
		client:    client,
		hub:       sentry.NewHub(client, sentry.NewScope()),
		transport: t,
		stop:      make(chan struct{}),
	}, nil
}

// Name implements Sink.
func (s *Sentry) Name() string { return "sentry" }

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
			se.Err = fmt.Errorf("heartbeat %s (%s): %w", status, clipSentry(detail, 200), se.Err)
			return se
		}
		return fmt.Errorf("heartbeat %s (%s): %w", status, clipSentry(detail, 200), err)
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
	sum := sha256.Sum256([]byte("linkwatch/sentry/" + src))
	return sentry.EventID(hex.EncodeToString(sum[:16]))
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
	ev.Level = sentry.LevelError
	if a.Type == incidents.AlertResolved {
		ev.Level = sentry.LevelInfo
	}
	ev.Message = inc.Title
	if ev.Message == "" {
		ev.Message = inc.Key
	}
	ev.Logger = "linkwatch.incidents"
	ev.Fingerprint = []string{"linkwatch", inc.Key}
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
	if inc.Kind != "" {
		ev.Tags["component"] = string(inc.Kind)
	}

	affected := make([]map[string]any, 0, min(len(inc.Affected), maxSentryAffected))
	for _, af := range inc.Affected[:min(len(inc.Affected), maxSentryAffected)] {
		affected = append(affected, map[string]any{"page": af.Page, "link": af.Link, "url": af.URL})
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
			"error":       clipSentry(r.Error, 1000),
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

// clipSentry cuts s to at most n bytes without splitting a rune.
func clipSentry(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// sentryTransport is a sentry.Transport that POSTs each envelope
// synchronously and hands the outcome to the capture that is waiting for it.
type sentryTransport struct {
	hc      *http.Client
	url     string // the envelope endpoint: no key in it
	auth    string // X-Sentry-Auth, holds the public key
	secrets []string

	mu      sync.Mutex
	waiting map[sentry.EventID]*sentryAttempt
}

// sentryAttempt is a capture waiting for its envelope to be sent.
type sentryAttempt struct {
	ctx      context.Context
	category string // rate-limit category: error | monitor
	err      error
	done     chan struct{}
}

var _ sentry.Transport = (*sentryTransport)(nil)

func (t *sentryTransport) register(id sentry.EventID, a *sentryAttempt) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, busy := t.waiting[id]; busy {
		return false
	}
	t.waiting[id] = a
	return true
}

func (t *sentryTransport) unregister(id sentry.EventID) {
	t.mu.Lock()
	delete(t.waiting, id)
	t.mu.Unlock()
}

func (t *sentryTransport) Configure(sentry.ClientOptions)        {}
func (t *sentryTransport) Flush(time.Duration) bool              { return true }
func (t *sentryTransport) FlushWithContext(context.Context) bool { return true }
func (t *sentryTransport) Close()                                {}

// SendEvent implements sentry.Transport.
func (t *sentryTransport) SendEvent(ev *sentry.Event) {
	t.mu.Lock()
	a := t.waiting[ev.EventID]
	t.mu.Unlock()
	if a == nil { // not ours to report on (the SDK capturing on its own)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = t.post(ctx, ev, "error")
		return
	}
	a.err = t.post(a.ctx, ev, a.category)
	close(a.done)
}

func (t *sentryTransport) post(ctx context.Context, ev *sentry.Event, category string) error {
	body, err := t.envelope(ev)
	if err != nil {
		return &SendError{Err: scrub(fmt.Errorf("sentry: encode event: %w", err), t.secrets...)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Err: scrub(fmt.Errorf("sentry: %w", err), t.secrets...)}
	}
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("User-Agent", "linkwatch/"+sentry.SDKVersion)
	req.Header.Set("X-Sentry-Auth", t.auth)
	resp, err := t.hc.Do(req)
	if err != nil {
		return &SendError{Retry: true, Err: scrub(fmt.Errorf("sentry: %w", err), t.secrets...)}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return t.classify(resp, snippet, category)
}

func (t *sentryTransport) classify(resp *http.Response, body []byte, category string) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg := fmt.Sprintf("sentry: HTTP %d", code)
	if detail := strings.TrimSpace(resp.Header.Get("X-Sentry-Error")); detail != "" {
		msg += ": " + clipSentry(detail, 200)
	} else if b := strings.TrimSpace(string(body)); b != "" {
		msg += ": " + clipSentry(b, 200)
	}
	se := &SendError{HTTPStatus: code, Err: scrub(errors.New(msg), t.secrets...)}
	switch {
	case code == http.StatusTooManyRequests:
		se.Retry = true
		se.RetryAfter = sentryRetryAfter(resp.Header, category, time.Now())
	case code >= 500:
		se.Retry = true
	}
	return se
}

// sentryRetryAfter reads how long Sentry wants us to wait: the
// X-Sentry-Rate-Limits entries for category (or for every category) win
// over Retry-After; 60 s when neither says, at most an hour.
func sentryRetryAfter(h http.Header, category string, now time.Time) time.Duration {
	var d time.Duration
	found := false
	if rl := h.Get("X-Sentry-Rate-Limits"); rl != "" {
		for _, limit := range strings.Split(rl, ",") {
			parts := strings.Split(strings.TrimSpace(limit), ":")
			secs, err := strconv.ParseFloat(parts[0], 64)
			if err != nil || secs < 0 {
				continue
			}
			applies := len(parts) < 2 || parts[1] == ""
			if !applies {
				for _, c := range strings.Split(parts[1], ";") {
					if c == category || (category == "error" && c == "default") {
						applies = true
					}
				}
			}
			if applies {
				found = true
				d = max(d, time.Duration(secs*float64(time.Second)))
			}
		}
	}
	if !found {
		if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" {
			if secs, err := strconv.ParseFloat(ra, 64); err == nil && secs >= 0 {
				d, found = time.Duration(secs*float64(time.Second)), true
			} else if at, err := http.ParseTime(ra); err == nil {
				d, found = max(at.Sub(now), 0), true
			}
		}
	}
	if !found {
		d = time.Minute
	}
	return min(d, time.Hour)
}

// envelope encodes ev as a Sentry envelope: a header line, then the item
// header and payload. The DSN is not put in the header.
func (t *sentryTransport) envelope(ev *sentry.Event) ([]byte, error) {
	item, err := ev.ToEnvelopeItem()
	if err != nil {
		return nil, err
	}
	header, err := json.Marshal(struct {
		EventID sentry.EventID    `json:"event_id"`
		SentAt  string            `json:"sent_at"`
		Sdk     map[string]string `json:"sdk"`
	}{ev.EventID, time.Now().UTC().Format(time.RFC3339Nano), map[string]string{"name": ev.Sdk.Name, "version": ev.Sdk.Version}})
	if err != nil {
		return nil, err
	}
	itemHeader, err := json.Marshal(item.Header)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(header) + len(itemHeader) + len(item.Payload) + 3)
	b.Write(header)
	b.WriteByte('\n')
	b.Write(itemHeader)
	b.WriteByte('\n')
	b.Write(item.Payload)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// sentryLogItem is an error log record on its way to Sentry.
type sentryLogItem struct {
	ev   *sentry.Event
	next slog.Handler // where to report a failed capture (never back to Sentry)
}

// NewSentryLogHandler returns a handler that passes every record to next
// and also sends records at Error level or above to Sentry as message
// events. Sending is asynchronous through a small queue: when the queue is
// full the record is not sent to Sentry (it is still logged by next). A nil
// s returns next.
func NewSentryLogHandler(next slog.Handler, s *Sentry) slog.Handler {
	if s == nil {
		return next
	}
	s.logOnce.Do(func() {
		s.logQ = make(chan sentryLogItem, sentryLogQueue)
		s.workers.Add(1)
		go s.logWorker()
	})
	return &sentryLogHandler{next: next, s: s}
}

func (s *Sentry) logWorker() {
	defer s.workers.Done()
	for {
		select {
		case <-s.stop:
			return
		case it := <-s.logQ:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := s.capture(ctx, it.ev, "error")
			cancel()
			if err != nil {
				r := slog.NewRecord(time.Now(), slog.LevelWarn, "sentry: could not send error log", 0)
				r.AddAttrs(slog.String("err", err.Error())) // already scrubbed
				_ = it.next.Handle(context.Background(), r)
			}
		}
	}
}

type sentryLogHandler struct {
	next   slog.Handler
	s      *Sentry
	attrs  []slog.Attr // from WithAttrs, keys already prefixed with their groups
	prefix string      // open groups, "a.b."
}

func (h *sentryLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.next.Enabled(ctx, l)
}

func (h *sentryLogHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < slog.LevelError {
		return err
	}
	it := sentryLogItem{ev: h.event(r), next: h.next}
	select {
	case h.s.logQ <- it:
	default: // busy: drop, never block logging
	}
	return err
}

func (h *sentryLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), prefixAttrs(h.prefix, attrs)...)
	return &c
}

func (h *sentryLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

func prefixAttrs(prefix string, attrs []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, slog.Attr{Key: prefix + a.Key, Value: a.Value})
	}
	return out
}

func (h *sentryLogHandler) event(r slog.Record) *sentry.Event {
	ev := sentry.NewEvent()
	ev.EventID = randomEventID()
	ev.Level = sentry.LevelError
	ev.Message = r.Message
	ev.Logger = "linkwatch"
	ev.Fingerprint = []string{"linkwatch-log", r.Message}
	if !r.Time.IsZero() {
		ev.Timestamp = r.Time
	}
	attrs := sentry.Context{}
	add := func(a slog.Attr) {
		addSentryAttr(ev, attrs, "", a)
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		add(slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
		return true
	})
	if len(attrs) > 0 {
		ev.Contexts["log"] = attrs
	}
	return ev
}

// addSentryAttr puts a resolved attribute in the event's "log" context, and
// short single-word strings also in its tags, where Sentry can search them.
func addSentryAttr(ev *sentry.Event, attrs sentry.Context, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if a.Key == "" && v.Kind() != slog.KindGroup {
		return
	}
	key := prefix + a.Key
	switch v.Kind() {
	case slog.KindGroup:
		p := prefix
		if a.Key != "" {
			p = key + "."
		}
		for _, g := range v.Group() {
			addSentryAttr(ev, attrs, p, g)
		}
		return
	case slog.KindString:
		s := v.String()
		attrs[key] = s
		if lowCardinality(key, s) {
			ev.Tags[key] = s
		}
		return
	}
	switch x := v.Any().(type) {
	case error:
		attrs[key] = x.Error()
	case time.Time:
		attrs[key] = x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		attrs[key] = x.String()
	case fmt.Stringer:
		attrs[key] = x.String()
	default:
		attrs[key] = v.String()
		if b, err := json.Marshal(x); err == nil && len(b) <= 4096 {
			attrs[key] = json.RawMessage(b)
		}
	}
}

// lowCardinality guesses whether a string attribute is fit for a tag: a
// short key and a short value without spaces (a channel name, a cause),
// not a sentence, an id or a URL.
func lowCardinality(key, s string) bool {
	if s == "" || len(key) > 32 || len(s) > 32 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '/' || r == '?' || r == '='
	})
}
