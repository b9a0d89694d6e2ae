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

// subscriptionBody is the body of POST and PATCH /subscriptions.
type subscriptionBody struct {
	URL         *string           `json:"url"`
	Filters     *linkwatch.Filter `json:"filters"`
	Description *string           `json:"description"`
	Paused      *bool             `json:"paused"`
}

// decodeSubscription reads a subscription body and validates it.
func (a *API) decodeSubscription(w http.ResponseWriter, r *http.Request, create bool) (subscriptionBody, error) {
	var b subscriptionBody
	if err := decode(w, r, &b); err != nil {
		return b, err
	}
	return b, a.parseSubscription(b, create)
}

// parseSubscription validates a subscription request body: every field
// it holds, the URL's form but not yet its address (that needs a lookup).
// create says whether it makes one (url required, paused not allowed) or
// changes one (url not allowed: a new URL is a new subscription, with its
// own verification).
func (a *API) parseSubscription(b subscriptionBody, create bool) error {
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
	b, err := a.decodeSubscription(w, r, true)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.checkURL == nil || a.newSecret == nil {
		writeError(w, http.StatusServiceUnavailable, "", "webhook subscriptions are not available in this process")
		return
	}
	if err := a.checkURL(r.Context(), *b.URL); err != nil {
		a.fail(w, r, &fieldError{"url", err.Error()})
		return
	}
	s := linkwatch.Subscription{URL: *b.URL, Secret: a.newSecret()}
	if b.Filters != nil {
		s.Filter = *b.Filters
	}
	if b.Description != nil {
		s.Description = *b.Description
	}
	s, err = a.store.CreateSubscription(r.Context(), s)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook subscription created: pending verification", "subscription", s.ID)
	w.Header().Set("Location", "/api/admin/subscriptions/"+strconv.FormatInt(s.ID, 10))
	writeJSON(w, http.StatusCreated, withSecret{view(s), s.Secret})
}

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	list, err := a.store.ListSubscriptions(r.Context())
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

func (a *API) showSubscription(w http.ResponseWriter, r *http.Request) {
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
	writeJSON(w, http.StatusOK, view(s))
}

func (a *API) patchSubscription(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	b, err := a.decodeSubscription(w, r, false)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.store.UpdateSubscription(r.Context(), id, linkwatch.SubscriptionPatch{Filter: b.Filters, Description: b.Description, Paused: b.Paused})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view(s))
}

func (a *API) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.DeleteSubscription(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook subscription deleted", "subscription", id)
	w.WriteHeader(http.StatusNoContent)
}

// rotateSecret makes a new secret, shown once. The old one keeps signing
// every delivery too for incidents.SecretOverlap.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.newSecret == nil {
		writeError(w, http.StatusServiceUnavailable, "", "webhook subscriptions are not available in this process")
		return
	}
	s, err := a.store.RotateSecret(r.Context(), id, a.newSecret())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("webhook subscription secret rotated", "subscription", id, "previous_secret_expires_at", s.PreviousUntil)
	writeJSON(w, http.StatusOK, withSecret{view(s), s.Secret})
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

// replay queues again, in order, the alerts since ?since= that the
// subscription's filters match.
func (a *API) replay(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	now := a.now()
	raw := r.URL.Query().Get("since")
	since, perr := time.Parse(time.RFC3339, raw)
	switch {
	case raw == "":
		err = &fieldError{"since", "is required: an RFC 3339 time such as 2026-05-01T10:00:00Z"}
	case perr != nil:
		err = &fieldError{"since", "must be an RFC 3339 time such as 2026-05-01T10:00:00Z"}
	case since.After(now):
		err = &fieldError{"since", "is in the future"}
	case now.Sub(since) > MaxReplayAge:
		err = &fieldError{"since", fmt.Sprintf("must be within %s from now", MaxReplayAge)}
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.store.Subscription(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if st := s.State(); st != linkwatch.SubscriptionActive {
		writeError(w, http.StatusConflict, "", fmt.Sprintf("subscription %d is %s: only an active one can replay", id, st))
		return
	}
	// As the dispatcher: an incident whose alert was matched gets the
	// rest of its story whatever min_impact says (Filter.Follow). Replay
	// looks at the alerts once each, in outbox order.
	followed := map[int64]bool{}
	n, next, err := a.store.Replay(r.Context(), s.Channel(), since, MaxReplayAlerts, func(al linkwatch.Alert) bool {
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
		a.fail(w, r, err)
		return
	}
	more := !next.IsZero()
	out := map[string]any{"queued": n, "more": more}
	if more {
		// The stored time of the first alert left out: the next call from
		// it queues each of the rest once.
		out["next_since"] = next.UTC().Format(time.RFC3339Nano)
	}
	a.log.Info("webhook subscription replay", "subscription", id, "since", since, "queued", n, "more", more)
	writeJSON(w, http.StatusAccepted, out)
}

// redeliver queues one delivery again: the same webhook-id, a new
// timestamp and signature when it is sent.
func (a *API) redeliver(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.checkLive(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	l, err := a.store.Redeliver(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("delivery queued again by an operator", "delivery", id, "channel", l.Channel, "event", l.EventID)
	writeJSON(w, http.StatusAccepted, l)
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
	list, err := a.store.DeliveryLog(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{"deliveries": nonNil(list)}
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
