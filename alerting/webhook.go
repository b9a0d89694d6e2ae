package alerting

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"linkwatch"
	"linkwatch/alerting/redact"
)

// Webhook posts alerts to a URL per the Standard Webhooks spec: headers
// webhook-id (stable across retries), webhook-timestamp and
// webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
type Webhook struct {
	name string
	url  string
	key  []byte
	// prev is the key before a rotation: it signs too, as a second v1
	// signature, until prevUntil.
	prev      []byte
	prevUntil time.Time
	filter    linkwatch.Filter
	client    *http.Client
	now       func() time.Time
}

// NewWebhook returns a webhook sink. secret is "whsec_" + base64 key, as the
// spec's libraries generate. dial nil uses the default dialer.
func NewWebhook(name, rawURL, secret string, dial DialFunc) (*Webhook, error) {
	key, err := webhookKey(secret)
	if err != nil {
		return nil, err
	}
	// A redirect is a failure, not followed: the receiver must be
	// configured with its real URL, and a signed body must not be replayed
	// to wherever a 3xx points.
	return &Webhook{name: linkwatch.WebhookChannel(name), url: rawURL, key: key, now: time.Now, client: newOutboundClient(dial, sendTimeout)}, nil
}

// NewSubscriptionWebhook returns the sink of a subscription made through
// the admin API: its channel, filters and secrets (both, during the
// overlap after a rotation). now decides when the overlap ends.
func NewSubscriptionWebhook(s linkwatch.Subscription, dial DialFunc, now func() time.Time) (*Webhook, error) {
	key, err := webhookKey(s.Secret)
	if err != nil {
		return nil, fmt.Errorf("subscription %d: %w", s.ID, err)
	}
	w := &Webhook{name: s.Channel(), url: s.URL, key: key, filter: s.Filter, now: now, client: newOutboundClient(dial, sendTimeout)}
	if s.PreviousSecret != "" && now().Before(s.PreviousUntil) {
		if w.prev, err = webhookKey(s.PreviousSecret); err != nil {
			return nil, fmt.Errorf("subscription %d: previous secret: %w", s.ID, err)
		}
		w.prevUntil = s.PreviousUntil
	}
	return w, nil
}

// SetFilter makes the webhook get only the alerts f lets through.
func (w *Webhook) SetFilter(f linkwatch.Filter) { w.filter = f }

// Filter is what the receiver chose to get.
func (w *Webhook) Filter() linkwatch.Filter { return w.filter }

// webhookKey decodes a whsec_ secret.
func webhookKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`secret must start with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 16 {
		return nil, errors.New("secret must be whsec_ followed by at least 16 base64-encoded bytes")
	}
	return key, nil
}

// Name identifies the channel.
func (w *Webhook) Name() string { return w.name }

// WebhookBody is what a webhook receiver gets.
type WebhookBody struct {
	Type      linkwatch.AlertType `json:"type"`
	Timestamp time.Time           `json:"timestamp"`
	Data      WebhookData         `json:"data"`
}

// WebhookData is the incident as of the event. webhook.schema.json in this
// package describes it for receivers.
type WebhookData struct {
	EventID    string             `json:"event_id"`
	Reason     string             `json:"reason,omitempty"`
	Incident   linkwatch.Incident `json:"incident"`
	LastResult *linkwatch.Result  `json:"last_result,omitempty"`
	// Added is the links that joined the incident (reason target_added),
	// every one of an update group.
	Added []linkwatch.Affected `json:"added,omitempty"`
	// Update is an operator's public update: its status and text; of
	// updates grouped within alerts.group_interval, the newest.
	Update *linkwatch.Update `json:"update,omitempty"`
	// Updates are every public update the event carries, oldest first:
	// more than one when they were posted within alerts.group_interval.
	Updates []linkwatch.Update `json:"updates,omitempty"`
}

// webhookResult is the check behind an alert as receivers get it: the
// result's JSON (durations in milliseconds, named _ms) without the
// series, an internal aggregation id, and without skipped_until (a check
// not made never makes an alert).
func webhookResult(r *linkwatch.Result) *linkwatch.Result {
	if r == nil {
		return nil
	}
	out := *r
	out.Series, out.SkippedUntil = "", time.Time{}
	return &out
}

// Send posts one alert.
func (w *Webhook) Send(ctx context.Context, d Delivery) error {
	a := d.Alert
	data := WebhookData{EventID: a.EventID, Reason: a.Reason, Incident: a.Incident, LastResult: webhookResult(a.LastResult),
		Added: a.Added, Update: a.Update, Updates: a.Updates()}
	body, err := json.Marshal(WebhookBody{Type: a.Type, Timestamp: a.CreatedAt.UTC(), Data: data})
	if err != nil {
		return &SendError{Err: fmt.Errorf("encode webhook body: %w", err)}
	}
	return w.post(ctx, a.EventID, body)
}

// VerifyBody is the subscription.verify event: a subscription gets no
// alert until its receiver answers one with 2xx.
type VerifyBody struct {
	Type      linkwatch.AlertType `json:"type"`
	Timestamp time.Time           `json:"timestamp"`
	Data      VerifyData          `json:"data"`
}

// VerifyData says which subscription is being verified.
type VerifyData struct {
	EventID        string `json:"event_id"`
	SubscriptionID int64  `json:"subscription_id"`
	URL            string `json:"url"`
}

// Verify sends a subscription.verify event, signed like every delivery.
func (w *Webhook) Verify(ctx context.Context, subscriptionID int64) error {
	id := "msg_verify_" + strings.ToLower(rand.Text())
	body, err := json.Marshal(VerifyBody{Type: linkwatch.AlertVerify, Timestamp: w.now().UTC(),
		Data: VerifyData{EventID: id, SubscriptionID: subscriptionID, URL: w.url}})
	if err != nil {
		return &SendError{Err: fmt.Errorf("encode verification: %w", err)}
	}
	return w.post(ctx, id, body)
}

// StorageBody is a storage.unreachable or storage.reachable event: one
// replica's news about its database, sent without it.
type StorageBody struct {
	Type      linkwatch.AlertType `json:"type"`
	Timestamp time.Time           `json:"timestamp"`
	Data      StorageData         `json:"data"`
}

// StorageData says which replica cannot (or can again) write to which
// database, since when, and why.
type StorageData struct {
	EventID  string         `json:"event_id"`
	Replica  StorageReplica `json:"replica"`
	Database string         `json:"database"`
	Since    time.Time      `json:"since"`
	// DownMS is how long the database has been out of reach
	// (storage.unreachable) or was (storage.reachable).
	DownMS float64 `json:"down_ms"`
	Error  string  `json:"error,omitempty"`
}

// StorageReplica is the replica that sends a storage event.
type StorageReplica struct {
	ID     string `json:"id"`
	Region string `json:"region,omitempty"`
	Addr   string `json:"addr,omitempty"`
}

// SendStorage posts a storage event, signed like every delivery, its
// webhook-id the event's id.
func (w *Webhook) SendStorage(ctx context.Context, e StorageEvent) error {
	body, err := json.Marshal(StorageBody{Type: e.Type, Timestamp: e.At.UTC(), Data: StorageData{EventID: e.EventID,
		Replica:  StorageReplica{ID: e.Replica.ID, Region: e.Replica.Region, Addr: e.Replica.Addr},
		Database: e.Database, Since: e.Since.UTC(), DownMS: linkwatch.Millis(e.Down()), Error: e.Error}})
	if err != nil {
		return &SendError{Err: fmt.Errorf("encode storage event: %w", err)}
	}
	return w.post(ctx, e.EventID, body)
}

// post sends one signed body: webhook-id is id, the timestamp is now.
func (w *Webhook) post(ctx context.Context, id string, body []byte) error {
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Err: redact.Err(err, w.url)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "linkwatch-webhooks/1.0")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", w.signature(id, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		inner := err
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			inner = ue.Unwrap()
		}
		return requestFailed(err, fmt.Errorf("POST %s: %w", redact.URL(w.url), redact.Err(inner, w.url)))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	if se := classifyHTTP(code, resp.Header, w.now(), fmt.Errorf("POST %s: %d %s", redact.URL(w.url), code, http.StatusText(code))); se != nil {
		return se // not the *SendError itself when nil: a typed nil is a non-nil error
	}
	return nil
}

// signature is the webhook-signature header: "v1,<sig>", and during the
// overlap after a rotation a second, space-separated "v1,<sig>" made with
// the previous key, as Standard Webhooks specifies, so a receiver still on
// either secret verifies every delivery.
func (w *Webhook) signature(id, ts string, body []byte) string {
	sig := "v1," + linkwatch.Sign(w.key, id, ts, body)
	if w.prev != nil && w.now().Before(w.prevUntil) {
		sig += " v1," + linkwatch.Sign(w.prev, id, ts, body)
	}
	return sig
}

// ms is a duration in (fractional) milliseconds, as receivers get them.
