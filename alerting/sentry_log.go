package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/getsentry/sentry-go"
)

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
