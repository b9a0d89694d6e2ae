package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"

	"linkwatch/alerting/redact"
	"linkwatch/checker"
)

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
		return &SendError{Err: redact.Err(fmt.Errorf("sentry: encode event: %w", err), t.secrets...)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Err: redact.Err(fmt.Errorf("sentry: %w", err), t.secrets...)}
	}
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("User-Agent", "linkwatch/"+sentry.SDKVersion)
	req.Header.Set("X-Sentry-Auth", t.auth)
	resp, err := t.hc.Do(req)
	if err != nil {
		return requestFailed(err, redact.Err(fmt.Errorf("sentry: %w", err), t.secrets...))
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
		msg += ": " + clip(detail, 200)
	} else if b := strings.TrimSpace(string(body)); b != "" {
		msg += ": " + clip(b, 200)
	}
	se := classifyHTTP(code, resp.Header, time.Now(), redact.Err(errors.New(msg), t.secrets...))
	if code == http.StatusTooManyRequests {
		// Sentry says per category, in its own header, how long to wait.
		se.RetryAfter = sentryRetryAfter(resp.Header, category, time.Now())
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
		if ra := checker.ParseRetryAfter(h.Get("Retry-After"), now); ra > 0 {
			d, found = ra, true
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
