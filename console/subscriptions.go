package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"linkwatch"
	"linkwatch/incidents/admin"
)

// subscriptionsView is the subscriptions page: every webhook subscription,
// and the form that makes one, holding what was typed when it was
// refused.
type subscriptionsView struct {
	List    []linkwatch.Subscription
	Form    subscriptionForm
	Events  []linkwatch.AlertType // the events a filter can name
	Impacts []linkwatch.Impact    // the minimum impacts it can name
	// Email is the status page's confirmed email subscribers per page
	// ("" for every page's): counts only, never an address.
	Email []emailCount
}

// emailCount is one row of the email subscribers' counts.
type emailCount struct {
	Page string // "" for the whole hub
	N    int
}

// subscriptionForm is the form that makes a subscription, as typed: the
// filter's lists are separated by spaces or commas.
type subscriptionForm struct {
	URL, Description, Pages, Links, Hosts, MinImpact string
	Events                                           []string
}

// Checked says whether the form names event e, for its checkbox.
func (f subscriptionForm) Checked(e linkwatch.AlertType) bool {
	return slices.Contains(f.Events, string(e))
}

// subscriptionView is one subscription's page: its facts, its delivery
// log (newest first), and the replay form. Secret is set on the one page
// that answers its creation or rotation, never on a page read by GET.
type subscriptionView struct {
	Sub        linkwatch.Subscription
	Deliveries []linkwatch.DeliveryLog
	Since      string // the replay form, as typed
	Secret     string
	Rotated    bool   // Secret is a rotation's, not a creation's
	Overlap    string // how long an old secret keeps signing: "24 hours"
}

// deliveryLogLimit is how many of a subscription's deliveries its page
// shows (the admin API pages through all of them).
const deliveryLogLimit = 50

func (c *Console) subscriptionsPage(w http.ResponseWriter, r *http.Request, s session) {
	c.renderSubscriptions(w, r, s, http.StatusOK, subscriptionForm{}, "")
}

// renderSubscriptions shows the list and the form f, with msg above it
// when the form was refused.
func (c *Console) renderSubscriptions(w http.ResponseWriter, r *http.Request, s session, status int, f subscriptionForm, msg string) {
	list, err := c.opts.Admin.Subscriptions(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	counts, err := c.opts.Admin.EmailSubscriberCounts(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := subscriptionsView{List: list, Form: f, Events: linkwatch.AlertTypes,
		Impacts: []linkwatch.Impact{linkwatch.ImpactMinor, linkwatch.ImpactMajor, linkwatch.ImpactCritical}}
	for page, n := range counts {
		v.Email = append(v.Email, emailCount{page, n})
	}
	slices.SortFunc(v.Email, func(a, b emailCount) int { return strings.Compare(a.Page, b.Page) })
	if msg != "" {
		c.renderError(w, r, s, status, "subscriptions.html", "Webhook subscriptions", v, msg)
		return
	}
	c.render(w, r, s, status, "subscriptions.html", "Webhook subscriptions", v)
}

// createSubscription makes a subscription through the admin API's call,
// and answers with its page showing the secret: once, in this answer
// alone (no redirect, so it is in no URL, and no later page has it).
func (c *Console) createSubscription(w http.ResponseWriter, r *http.Request, s session) {
	f := subscriptionForm{URL: strings.TrimSpace(r.PostForm.Get("url")), Description: r.PostForm.Get("description"),
		Pages: r.PostForm.Get("pages"), Links: r.PostForm.Get("links"), Hosts: r.PostForm.Get("hosts"),
		MinImpact: r.PostForm.Get("min_impact"), Events: r.PostForm["events"]}
	filter := linkwatch.Filter{Pages: words(f.Pages), Links: words(f.Links), Hosts: words(f.Hosts), MinImpact: linkwatch.Impact(f.MinImpact)}
	for _, e := range f.Events {
		filter.Events = append(filter.Events, linkwatch.AlertType(e))
	}
	req := admin.SubscriptionRequest{URL: &f.URL, Filters: &filter}
	if f.Description != "" {
		req.Description = &f.Description
	}
	sub, err := c.opts.Admin.CreateSubscription(r.Context(), req)
	detail := f.URL
	if err == nil {
		detail = fmt.Sprintf("subscription %d: %s", sub.ID, f.URL)
	}
	c.audit(r, s, linkwatch.AuditEntry{Action: "subscription.create", Detail: detail}, err)
	if err != nil {
		if _, msg, ok := admin.BadInput(err); ok {
			c.renderSubscriptions(w, r, s, http.StatusBadRequest, f, msg)
			return
		}
		c.refusedSubscription(w, r, s, 0, err)
		return
	}
	c.renderSubscription(w, r, s, sub.ID, http.StatusCreated, subscriptionView{Secret: sub.Secret}, "")
}

// words splits a list typed into a form, by spaces or commas.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

func (c *Console) subscriptionPage(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := c.subscriptionID(w, r, s)
	if !ok {
		return
	}
	c.renderSubscription(w, r, s, id, http.StatusOK, subscriptionView{}, "")
}

// subscriptionID is the subscription the path names; a bad one is
// answered 404.
func (c *Console) subscriptionID(w http.ResponseWriter, r *http.Request, s session) (int64, bool) {
	id, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	if err != nil || id <= 0 {
		c.render(w, r, s, http.StatusNotFound, "message.html", "Not found", "There is no such subscription.")
		return 0, false
	}
	return id, true
}

// renderSubscription shows subscription id's page with v's secret and
// replay form, and msg above it when an action was refused.
func (c *Console) renderSubscription(w http.ResponseWriter, r *http.Request, s session, id int64, status int, v subscriptionView, msg string) {
	sub, err := c.opts.Admin.Subscription(r.Context(), id)
	if errors.Is(err, linkwatch.ErrNotFound) {
		c.render(w, r, s, http.StatusNotFound, "message.html", "Not found", fmt.Sprintf("There is no subscription %d: it was deleted, or never made.", id))
		return
	}
	if err == nil {
		v.Deliveries, err = c.opts.Admin.Deliveries(r.Context(), linkwatch.DeliveryQuery{Channel: sub.Channel(), Limit: deliveryLogLimit})
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v.Sub, v.Overlap = sub, fmt.Sprintf("%d hours", int(linkwatch.SecretOverlap.Hours()))
	title := fmt.Sprintf("Subscription %d", id)
	if msg != "" {
		c.renderError(w, r, s, status, "subscription.html", title, v, msg)
		return
	}
	c.render(w, r, s, status, "subscription.html", title, v)
}

// refusedSubscription answers an action on subscription id (0: none yet)
// that the admin API refused: bad input or a refusal is its page again
// with the message (400, 409), a subscription that is gone a 404, a
// process that cannot make subscriptions a 503; nothing changed.
func (c *Console) refusedSubscription(w http.ResponseWriter, r *http.Request, s session, id int64, err error) {
	_, msg, bad := admin.BadInput(err)
	switch {
	case errors.Is(err, admin.ErrNoSubscriptions):
		c.render(w, r, s, http.StatusServiceUnavailable, "message.html", "Not available", err.Error()+".")
	case id == 0:
		c.fail(w, r, s, err)
	case bad:
		c.renderSubscription(w, r, s, id, http.StatusBadRequest, subscriptionView{Since: r.PostForm.Get("since")}, msg)
	case errors.Is(err, linkwatch.ErrConflict):
		c.renderSubscription(w, r, s, id, http.StatusConflict, subscriptionView{Since: r.PostForm.Get("since")},
			strings.TrimSuffix(err.Error(), ": "+linkwatch.ErrConflict.Error()))
	case errors.Is(err, linkwatch.ErrNotFound):
		c.render(w, r, s, http.StatusNotFound, "message.html", "Not found", "That is gone: "+err.Error()+". Nothing was changed.")
	default:
		c.fail(w, r, s, err)
	}
}

// pauseSubscription pauses or resumes a subscription (paused=true|false).
func (c *Console) pauseSubscription(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := c.subscriptionID(w, r, s)
	if !ok {
		return
	}
	raw := r.PostForm.Get("paused")
	if raw != "true" && raw != "false" {
		c.renderSubscription(w, r, s, id, http.StatusBadRequest, subscriptionView{}, "Say whether to pause the subscription or resume it.")
		return
	}
	paused := raw == "true"
	_, err := c.opts.Admin.UpdateSubscription(r.Context(), id, admin.SubscriptionRequest{Paused: &paused})
	action, notice := "subscription.resume", "subscription-resumed"
	if paused {
		action, notice = "subscription.pause", "subscription-paused"
	}
	c.audit(r, s, linkwatch.AuditEntry{Action: action, Detail: fmt.Sprintf("subscription %d", id)}, err)
	if err != nil {
		c.refusedSubscription(w, r, s, id, err)
		return
	}
	c.done(w, r, fmt.Sprintf("%s/subscriptions/%d", Path, id), notice)
}

// rotateSecret gives a subscription a new secret, shown once on the page
// that answers (as its creation's).
func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := c.subscriptionID(w, r, s)
	if !ok {
		return
	}
	sub, err := c.opts.Admin.RotateSecret(r.Context(), id)
	c.audit(r, s, linkwatch.AuditEntry{Action: "subscription.rotate", Detail: fmt.Sprintf("subscription %d", id)}, err)
	if err != nil {
		c.refusedSubscription(w, r, s, id, err)
		return
	}
	c.renderSubscription(w, r, s, id, http.StatusOK, subscriptionView{Secret: sub.Secret, Rotated: true}, "")
}

func (c *Console) deleteSubscription(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := c.subscriptionID(w, r, s)
	if !ok {
		return
	}
	err := c.opts.Admin.DeleteSubscription(r.Context(), id)
	c.audit(r, s, linkwatch.AuditEntry{Action: "subscription.delete", Detail: fmt.Sprintf("subscription %d", id)}, err)
	if err != nil {
		c.refusedSubscription(w, r, s, id, err)
		return
	}
	c.done(w, r, Path+"/subscriptions", "subscription-deleted")
}

// replay queues again the alerts since the form's time (a datetime-local
// value, in UTC, or an RFC 3339 time) that the subscription's filters
// match.
func (c *Console) replay(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := c.subscriptionID(w, r, s)
	if !ok {
		return
	}
	since := strings.TrimSpace(r.PostForm.Get("since"))
	if t, err := time.Parse(localLayout, since); err == nil {
		since = t.Format(time.RFC3339)
	}
	res, err := c.opts.Admin.Replay(r.Context(), id, since)
	detail := fmt.Sprintf("subscription %d since %s", id, since)
	if err == nil {
		detail += fmt.Sprintf(": %d queued", res.Queued)
		if res.More() {
			detail += ", more from " + res.NextSince.UTC().Format(time.RFC3339Nano)
		}
	}
	c.audit(r, s, linkwatch.AuditEntry{Action: "subscription.replay", Detail: detail}, err)
	if err != nil {
		c.refusedSubscription(w, r, s, id, err)
		return
	}
	notice := "replayed"
	if res.More() {
		notice = "replayed-more"
	}
	c.done(w, r, fmt.Sprintf("%s/subscriptions/%d", Path, id), notice)
}

// redeliver queues one delivery of the subscription's log again.
func (c *Console) redeliver(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := c.subscriptionID(w, r, s)
	if !ok {
		return
	}
	delivery, err := strconv.ParseInt(r.PostForm.Get("delivery"), 10, 64)
	if err != nil || delivery <= 0 {
		c.renderSubscription(w, r, s, id, http.StatusBadRequest, subscriptionView{}, "Name the delivery to send again.")
		return
	}
	// The delivery must be this subscription's: the form is its page's.
	list, err := c.opts.Admin.Deliveries(r.Context(), linkwatch.DeliveryQuery{Channel: linkwatch.SubscriptionChannel(id), Before: delivery + 1, Limit: 1})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if len(list) == 0 || list[0].ID != delivery {
		c.renderSubscription(w, r, s, id, http.StatusBadRequest, subscriptionView{}, fmt.Sprintf("Delivery %d is not one of this subscription's.", delivery))
		return
	}
	_, err = c.opts.Admin.Redeliver(r.Context(), delivery)
	c.audit(r, s, linkwatch.AuditEntry{Action: "delivery.redeliver", Detail: fmt.Sprintf("delivery %d of subscription %d", delivery, id)}, err)
	if err != nil {
		c.refusedSubscription(w, r, s, id, err)
		return
	}
	c.done(w, r, fmt.Sprintf("%s/subscriptions/%d", Path, id), "redelivered")
}

// filterWords says what a subscription's filters let through: "pages
// acme, beta; events incident.opened; impact major or more".
func filterWords(f linkwatch.Filter) string {
	if f.Empty() {
		return "every alert"
	}
	var parts []string
	for _, l := range []struct {
		name  string
		items []string
	}{{"pages", f.Pages}, {"links", f.Links}, {"hosts", f.Hosts}} {
		if len(l.items) > 0 {
			parts = append(parts, l.name+" "+strings.Join(l.items, ", "))
		}
	}
	if len(f.Events) > 0 {
		events := make([]string, len(f.Events))
		for i, e := range f.Events {
			events[i] = string(e)
		}
		parts = append(parts, "events "+strings.Join(events, ", "))
	}
	if f.MinImpact != "" {
		parts = append(parts, "impact "+string(f.MinImpact)+" or more")
	}
	return strings.Join(parts, "; ")
}
