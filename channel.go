package linkwatch

import (
	"fmt"
	"strconv"
	"strings"
)

// Alert channels: every sink and subscription has a name, which is its
// outbox channel (a delivery row per alert and channel) and the name the
// admin API shows.

// SentryChannel is Sentry's channel.
const SentryChannel = "sentry"

// SlackChannel is the channel of a Slack entry: "slack" for the single
// unnamed entry, "slack:<name>" for one of several.
func SlackChannel(name string) string {
	if name == "" {
		return "slack"
	}
	return "slack:" + name
}

// WebhookChannel is the channel of a webhook of the config file.
func WebhookChannel(name string) string { return "webhook:" + name }

// SubscriptionChannel is the outbox channel of subscription id.
func SubscriptionChannel(id int64) string {
	return SubscriptionChannelPrefix + strconv.FormatInt(id, 10)
}

// SubscriptionOf returns the subscription id of a channel name, if it is one.
func SubscriptionOf(channel string) (int64, bool) {
	s, ok := strings.CutPrefix(channel, SubscriptionChannelPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0 && fmt.Sprint(id) == s
}

// SubscriptionChannelPrefix starts every subscription's channel name; a
// query that builds the names from subscription ids (prefix || id) takes
// it as a parameter rather than spelling it again.
const SubscriptionChannelPrefix = "sub:"
