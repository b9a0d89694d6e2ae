package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"linkwatch"
)

// SubscriptionStore is what the subscriptions API and the delivery log
// need from storage.
type SubscriptionStore interface {
	CreateSubscription(ctx context.Context, s linkwatch.Subscription) (linkwatch.Subscription, error)
	Subscription(ctx context.Context, id int64) (linkwatch.Subscription, error)
	ListSubscriptions(ctx context.Context) ([]linkwatch.Subscription, error)
	UpdateSubscription(ctx context.Context, id int64, p linkwatch.SubscriptionPatch) (linkwatch.Subscription, error)
	DeleteSubscription(ctx context.Context, id int64) error
	RotateSecret(ctx context.Context, id int64, secret string) (linkwatch.Subscription, error)
	RequestVerification(ctx context.Context, id int64) (linkwatch.Subscription, error)
	DeliveryLog(ctx context.Context, q linkwatch.DeliveryQuery) ([]linkwatch.DeliveryLog, error)
	Redeliver(ctx context.Context, id int64) (linkwatch.DeliveryLog, error)
	Replay(ctx context.Context, channel string, since time.Time, limit int, match func(linkwatch.Alert) bool) (int, time.Time, error)
}

// Replay bounds: how far back, and how many alerts one request re-sends.
// A receiver that was down longer replays in steps (the answer says
// whether more matched, and from when to ask next).
const (
	MaxReplayAge    = 7 * 24 * time.Hour
	MaxReplayAlerts = 1000
)

// Bounds of a subscription's text fields.
const (
	maxDescription = 500
	maxURL         = 2048
)

// subscriptionView is a subscription as the API shows it: never its
// secrets, always its state.
type subscriptionView struct {
	linkwatch.Subscription
	State   linkwatch.SubscriptionState `json:"state"`
	Channel string                      `json:"channel"`
}

func view(s linkwatch.Subscription) subscriptionView {
	return subscriptionView{Subscription: s, State: s.State(), Channel: s.Channel()}
}

// withSecret is the one answer that carries a secret: creation and rotation.
type withSecret struct {
	subscriptionView
	Secret string `json:"secret"`
}

// checkFilter validates filters as the config file's are
// (linkwatch.Filter.Check), naming the first field at fault under filters.
// The database alerts are not for subscriptions: they are sent without
// the database, where subscriptions live.
func (a *API) checkFilter(f linkwatch.Filter) error {
	if errs := f.Check(a.catalog); len(errs) > 0 {
		return &fieldError{"filters." + errs[0].Field, errs[0].Msg}
	}
	for i, e := range f.Events {
		if slices.Contains(linkwatch.StorageAlertTypes, e) {
			return &fieldError{fmt.Sprintf("filters.events[%d]", i), fmt.Sprintf("%s goes to the config file's channels only, sent without the database, where subscriptions live", e)}
		}
	}
	return nil
}

// SubscriptionRequest makes a subscription (POST /subscriptions: url
// required, paused not allowed) or changes one (PATCH: url not allowed);
// a nil field is not given.
type SubscriptionRequest struct {
	URL         *string           `json:"url"`
	Filters     *linkwatch.Filter `json:"filters"`
	Description *string           `json:"description"`
	Paused      *bool             `json:"paused"`
}

// ErrNoSubscriptions is a subscription made or rotated in a process that
// cannot make them (no URL check or no secret maker configured).
var ErrNoSubscriptions = errors.New("webhook subscriptions are not available in this process")

// parseSubscription validates a subscription request body: every field
// it holds, the URL's form but not yet its address (that needs a lookup).
// create says whether it makes one (url required, paused not allowed) or
// changes one (url not allowed: a new URL is a new subscription, with its
// own verification).
func (a *API) parseSubscription(b SubscriptionRequest, create bool) error {
	if create {
		switch {
		case b.URL == nil || strings.TrimSpace(*b.URL) == "":
			return &fieldError{"url", "is required"}
		case len(*b.URL) > maxURL:
			return &fieldError{"url", fmt.Sprintf("must be at most %d bytes", maxURL)}
		case b.Paused != nil:
			return &fieldError{"paused", "applies only to an existing subscription (PATCH)"}
		}
	} else {
		switch {
		case b.URL != nil:
			return &fieldError{"url", "cannot be changed: create a new subscription (it is verified again) and delete this one"}
		case b.Filters == nil && b.Description == nil && b.Paused == nil:
			return &fieldError{"(body)", "nothing to change: give filters, description or paused"}
		}
	}
	if b.Description != nil {
		if err := checkLine("description", *b.Description, false, maxDescription); err != nil {
			return err
		}
	}
	if b.Filters != nil {
		return a.checkFilter(*b.Filters)
	}
	return nil
}

func (a *API) createSubscription(w http.ResponseWriter, r *http.Request) {
	var b SubscriptionRequest
	if err := decode(w, r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.CreateSubscription(r.Context(), b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/admin/subscriptions/"+strconv.FormatInt(s.ID, 10))
	writeJSON(w, http.StatusCreated, withSecret{view(s), s.Secret})
}

// CreateSubscription checks b (its URL against the SSRF guard too) and
// makes the subscription, pending verification, with a new secret: the
// one answer that holds it (s.Secret), for every way one is made (the
// admin API, the console). Bad input is an error naming the field, and
// nothing is stored.
func (a *API) CreateSubscription(ctx context.Context, b SubscriptionRequest) (linkwatch.Subscription, error) {
	if err := a.parseSubscription(b, true); err != nil {
		return linkwatch.Subscription{}, err
	}
	if a.checkURL == nil || a.newSecret == nil {
		return linkwatch.Subscription{}, ErrNoSubscriptions
	}
	if err := a.checkURL(ctx, *b.URL); err != nil {
		return linkwatch.Subscription{}, &fieldError{"url", err.Error()}
	}
	s := linkwatch.Subscription{URL: *b.URL, Secret: a.newSecret()}
	if b.Filters != nil {
		s.Filter = *b.Filters
	}
	if b.Description != nil {
		s.Description = *b.Description
	}
	s, err := a.store.CreateSubscription(ctx, s)
	if err != nil {
		return s, err
	}
	a.log.Info("webhook subscription created: pending verification", "subscription", s.ID)
	return s, nil
}

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	list, err := a.Subscriptions(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]subscriptionView, 0, len(list))
	for _, s := range list {
		out = append(out, view(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
}

// Subscriptions lists the webhook subscriptions (their secrets are
// json:"-", and no page shows them).
func (a *API) Subscriptions(ctx context.Context) ([]linkwatch.Subscription, error) {
	list, err := a.store.ListSubscriptions(ctx)
	return nonNil(list), err
}

func (a *API) showSubscription(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.Subscription(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view(s))
}

// Subscription is one subscription (linkwatch.ErrNotFound if there is none).
func (a *API) Subscription(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	return a.store.Subscription(ctx, id)
}

func (a *API) patchSubscription(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var b SubscriptionRequest
	if err := decode(w, r, &b); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.UpdateSubscription(r.Context(), id, b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view(s))
}

// UpdateSubscription changes a subscription's filters, description or
// paused state (b's url must be nil): bad input is an error naming the
// field, and nothing changes.
func (a *API) UpdateSubscription(ctx context.Context, id int64, b SubscriptionRequest) (linkwatch.Subscription, error) {
	if err := a.parseSubscription(b, false); err != nil {
		return linkwatch.Subscription{}, err
	}
	return a.store.UpdateSubscription(ctx, id, linkwatch.SubscriptionPatch{Filter: b.Filters, Description: b.Description, Paused: b.Paused})
}

func (a *API) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.DeleteSubscription(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeleteSubscription removes a subscription.
func (a *API) DeleteSubscription(ctx context.Context, id int64) error {
	if err := a.store.DeleteSubscription(ctx, id); err != nil {
		return err
	}
	a.log.Info("webhook subscription deleted", "subscription", id)
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.RotateSecret(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, withSecret{view(s), s.Secret})
}

// RotateSecret makes a subscription a new secret, in s.Secret: the one
// answer that holds it. The old one keeps signing every delivery too for
// incidents.SecretOverlap.
func (a *API) RotateSecret(ctx context.Context, id int64) (linkwatch.Subscription, error) {
	if a.newSecret == nil {
		return linkwatch.Subscription{}, ErrNoSubscriptions
	}
	s, err := a.store.RotateSecret(ctx, id, a.newSecret())
	if err != nil {
		return s, err
	}
	a.log.Info("webhook subscription secret rotated", "subscription", id, "previous_secret_expires_at", s.PreviousUntil)
	return s, nil
}

// verify asks for the subscription.verify event to be sent again.
func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.store.Subscription(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if st := s.State(); st != linkwatch.SubscriptionPending && st != linkwatch.SubscriptionDisabled {
		writeError(w, http.StatusConflict, "", fmt.Sprintf("subscription %d is %s: it is already verified", id, st))
		return
	}
	if s, err = a.store.RequestVerification(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, view(s))
}

func (a *API) replay(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.Replay(r.Context(), id, r.URL.Query().Get("since"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{"queued": res.Queued, "more": res.More()}
	if res.More() {
		out["next_since"] = res.NextSince.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, http.StatusAccepted, out)
}

// ReplayResult is what a replay queued: Queued alerts, and, when more
// matched than one replay sends (MaxReplayAlerts), the stored time of the
// first left out: a replay from NextSince queues each of the rest once.
type ReplayResult struct {
	Queued    int
	NextSince time.Time // zero: nothing left
}

// More says whether alerts were left for another replay.
func (r ReplayResult) More() bool { return !r.NextSince.IsZero() }

// Replay queues again, in order, the alerts since since (an RFC 3339
// time, at most MaxReplayAge ago) that the subscription's filters match;
// only an active subscription replays.
func (a *API) Replay(ctx context.Context, id int64, since string) (ReplayResult, error) {
	now := a.now()
	t, perr := time.Parse(time.RFC3339, since)
	switch {
	case since == "":
		return ReplayResult{}, &fieldError{"since", "is required: an RFC 3339 time such as 2026-05-01T10:00:00Z"}
	case perr != nil:
		return ReplayResult{}, &fieldError{"since", "must be an RFC 3339 time such as 2026-05-01T10:00:00Z"}
	case t.After(now):
		return ReplayResult{}, &fieldError{"since", "is in the future"}
	case now.Sub(t) > MaxReplayAge:
		return ReplayResult{}, &fieldError{"since", fmt.Sprintf("must be within %s from now", MaxReplayAge)}
	}
	s, err := a.store.Subscription(ctx, id)
	if err != nil {
		return ReplayResult{}, err
	}
	if st := s.State(); st != linkwatch.SubscriptionActive {
		return ReplayResult{}, fmt.Errorf("subscription %d is %s: only an active one can replay: %w", id, st, linkwatch.ErrConflict)
	}
	// As the dispatcher: an incident whose alert was matched gets the
	// rest of its story whatever min_impact says (Filter.Follow). Replay
	// looks at the alerts once each, in outbox order.
	followed := map[int64]bool{}
	n, next, err := a.store.Replay(ctx, s.Channel(), t, MaxReplayAlerts, func(al linkwatch.Alert) bool {
		_, ok := s.Filter.Apply(al)
		if !ok && followed[al.IncidentID] {
			_, ok = s.Filter.Follow().Apply(al)
		}
		if ok {
			followed[al.IncidentID] = true
		}
		return ok
	})
	if err != nil {
		return ReplayResult{}, err
	}
	res := ReplayResult{Queued: n, NextSince: next}
	a.log.Info("webhook subscription replay", "subscription", id, "since", t, "queued", n, "more", res.More())
	return res, nil
}

func (a *API) redeliver(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	l, err := a.Redeliver(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, l)
}

// Redeliver queues one delivery again: the same webhook-id, a new
// timestamp and signature when it is sent. A delivery whose channel is
// gone is refused (checkLive).
func (a *API) Redeliver(ctx context.Context, id int64) (linkwatch.DeliveryLog, error) {
	if err := a.checkLive(ctx, id); err != nil {
		return linkwatch.DeliveryLog{}, err
	}
	l, err := a.store.Redeliver(ctx, id)
	if err != nil {
		return l, err
	}
	a.log.Info("delivery queued again by an operator", "delivery", id, "channel", l.Channel, "event", l.EventID)
	return l, nil
}

// Deliveries is the delivery log, newest first, as q selects it.
func (a *API) Deliveries(ctx context.Context, q linkwatch.DeliveryQuery) ([]linkwatch.DeliveryLog, error) {
	list, err := a.store.DeliveryLog(ctx, q)
	return nonNil(list), err
}

// listDeliveries is the delivery log, newest first: every channel, one
// (?channel=webhook:ops) or one subscription's (?subscription=3), a page
// at a time (?before=<the last id of the previous page>).
func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := linkwatch.DeliveryQuery{Limit: 100}
	var err error
	if s := v.Get("limit"); s != "" {
		n, perr := strconv.Atoi(s)
		if perr != nil || n < 1 || n > 1000 {
			err = &fieldError{"limit", "must be an integer from 1 to 1000"}
		}
		q.Limit = n
	}
	if s := v.Get("before"); s != "" && err == nil {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 1 {
			err = &fieldError{"before", "must be a positive delivery id"}
		}
		q.Before = n
	}
	sub, ch := v.Get("subscription"), v.Get("channel")
	switch {
	case err != nil:
	case sub != "" && ch != "":
		err = &fieldError{"subscription", "give subscription or channel, not both"}
	case sub != "":
		id, perr := strconv.ParseInt(sub, 10, 64)
		if perr != nil || id < 1 {
			err = &fieldError{"subscription", "must be a positive subscription id"}
		}
		q.Channel = linkwatch.SubscriptionChannel(id)
	case ch != "":
		if cerr := checkLine("channel", ch, true, 200); cerr != nil {
			err = cerr
		}
		q.Channel = ch
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	list, err := a.Deliveries(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{"deliveries": list}
	if len(list) == q.Limit {
		out["next_before"] = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// checkLive refuses to queue again a delivery whose channel is gone (a
// deleted subscription, a webhook removed from the config): nothing would
// ever send it, and it would count as pending for good.
func (a *API) checkLive(ctx context.Context, deliveryID int64) error {
	list, err := a.store.DeliveryLog(ctx, linkwatch.DeliveryQuery{Before: deliveryID + 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(list) == 0 || list[0].ID != deliveryID {
		return fmt.Errorf("delivery %d: %w", deliveryID, linkwatch.ErrNotFound)
	}
	ch := list[0].Channel
	if sub, ok := linkwatch.SubscriptionOf(ch); ok {
		if _, err := a.store.Subscription(ctx, sub); errors.Is(err, linkwatch.ErrNotFound) {
			return fmt.Errorf("subscription %d was deleted: %w", sub, linkwatch.ErrConflict)
		} else if err != nil {
			return err
		}
		return nil
	}
	if !slices.Contains(a.channels, ch) {
		return fmt.Errorf("channel %s is not configured any more: %w", ch, linkwatch.ErrConflict)
	}
	return nil
}
