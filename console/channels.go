package console

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/incidents/admin"
)

// ChannelTester sends a marked test alert through one configured channel
// and says what its receiver answered (*alerting.Tester).
type ChannelTester interface {
	Testable(channel string) bool
	SendTest(ctx context.Context, channel string) (alerting.TestAnswer, bool)
}

// channelsView is the channels page: each configured channel's state.
type channelsView struct {
	Channels []linkwatch.ChannelState
	Statuses []linkwatch.DeliveryStatus // the columns of the deliveries' counts
	Testable map[string]bool            // the channels a test can be sent through
	Tested   *alerting.TestAnswer       // the answer to the test just sent
}

// deliveryColumns are the delivery statuses the page counts, in order.
var deliveryColumns = []linkwatch.DeliveryStatus{linkwatch.DeliveryPending, linkwatch.DeliverySent, linkwatch.DeliveryDead, linkwatch.DeliveryDisabled}

func (c *Console) channelsPage(w http.ResponseWriter, r *http.Request, s session) {
	c.renderChannels(w, r, s, http.StatusOK, "")
}

func (c *Console) renderChannels(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	c.renderChannelsWith(w, r, s, status, msg, nil)
}

func (c *Console) renderChannelsWith(w http.ResponseWriter, r *http.Request, s session, status int, msg string, tested *alerting.TestAnswer) {
	list, err := c.opts.Admin.Channels(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := channelsView{Channels: list, Statuses: deliveryColumns, Testable: map[string]bool{}, Tested: tested}
	for _, ch := range list {
		v.Testable[ch.Name] = c.opts.Tester != nil && c.opts.Tester.Testable(ch.Name)
	}
	if msg != "" {
		c.renderError(w, r, s, status, "channels.html", "Alert channels", v, msg)
		return
	}
	c.render(w, r, s, status, "channels.html", "Alert channels", v)
}

// setChannel switches a channel on (re-enable) or off with a reason,
// through the admin API's call.
func (c *Console) setChannel(w http.ResponseWriter, r *http.Request, s session) {
	name, reason := r.PostForm.Get("name"), strings.TrimSpace(r.PostForm.Get("reason"))
	enabled := r.PostForm.Get("enabled") == "true"
	if !slices.Contains([]string{"true", "false"}, r.PostForm.Get("enabled")) {
		c.renderChannels(w, r, s, http.StatusBadRequest, "Say whether to switch the channel on or off.")
		return
	}
	_, err := c.opts.Admin.SetChannel(r.Context(), name, enabled, reason)
	action, detail := "channel.enable", name
	if !enabled {
		action = "channel.disable"
		if reason != "" {
			detail += ": " + reason
		}
	}
	c.audit(r, s, linkwatch.AuditEntry{Action: action, Detail: detail}, err)
	if err != nil {
		if _, msg, ok := admin.BadInput(err); ok {
			c.renderChannels(w, r, s, http.StatusBadRequest, msg)
			return
		}
		c.fail(w, r, s, err)
		return
	}
	notice := "channel-enabled"
	if !enabled {
		notice = "channel-disabled"
	}
	c.done(w, r, Path+"/channels", notice)
}

// sendTest sends a marked test alert through one configured channel, as
// linkwatch test-alert does, and shows what its receiver answered. The
// answer is the page, not a redirect: it is this request's alone.
func (c *Console) sendTest(w http.ResponseWriter, r *http.Request, s session) {
	name := r.PostForm.Get("name")
	if c.opts.Tester == nil || !c.opts.Tester.Testable(name) {
		c.renderChannels(w, r, s, http.StatusBadRequest, "A test can be sent only through a configured channel (alerts.slack, alerts.sentry, alerts.webhooks).")
		return
	}
	ans, _ := c.opts.Tester.SendTest(r.Context(), name)
	c.audit(r, s, linkwatch.AuditEntry{Action: "channel.test", Detail: name + ": " + ans.String()}, ans.Err)
	c.renderChannelsWith(w, r, s, http.StatusOK, "", &ans)
}
