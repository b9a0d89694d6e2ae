package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"linkwatch/alerting"
	"linkwatch/alerting/datadog"
	"linkwatch/checker"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
)

// outboundDial makes every connection linkwatch opens to a URL from the
// config other than the hub's own: probes, webhooks, Slack, Sentry. One
// guard, so no channel is a way around it: private, loopback and
// link-local addresses only when probe.allow_private lists them.
func outboundDial(cfg *config.Config) alerting.DialFunc {
	return alerting.DialFunc(checker.GuardedDialContext(cfg.Probe.AllowPrefixes(), 10*time.Second))
}

// receiverGuard is the SSRF guard of webhook subscriptions: their URL is
// checked when made (refused at once, a 400 naming url) and every
// connection to it goes through the same guard as every other outbound
// request, with probe.allow_private.
func receiverGuard(cfg *config.Config) *checker.URLGuard {
	return checker.NewURLGuard(nil, cfg.Probe.AllowPrefixes(), 10*time.Second)
}

// checkReceiverURL is the admin API's check of a subscription URL: a
// valid http(s) URL, and one the SSRF guard allows.
func checkReceiverURL(guard *checker.URLGuard) func(ctx context.Context, rawURL string) error {
	return func(ctx context.Context, rawURL string) error {
		if err := hub.ValidateURL(rawURL); err != nil {
			return err
		}
		return guard.Check(ctx, rawURL)
	}
}

// newSentry returns the Sentry client, or nil without one.
func newSentry(cfg *config.Config) (*alerting.Sentry, error) {
	s := cfg.Alerts.Sentry
	if s == nil {
		return nil, nil
	}
	return alerting.NewSentry(alerting.SentryOptions{DSN: s.DSN, Environment: s.Environment, Release: "linkwatch@" + buildVersion(),
		Dial: outboundDial(cfg)})
}

// newSinks builds the configured alert channels.
func newSinks(cfg *config.Config, threads alerting.ThreadStore, sentry *alerting.Sentry) ([]alerting.Sink, error) {
	var sinks []alerting.Sink
	if sentry != nil {
		sinks = append(sinks, sentry)
	}
	a := cfg.Alerts
	dial := outboundDial(cfg)
	for _, s := range a.Slack {
		apiURL := s.APIURL
		if apiURL != "" && !strings.HasSuffix(apiURL, "/") {
			apiURL += "/" // slack-go appends the method name: .../api/chat.postMessage
		}
		slack, err := alerting.NewSlack(alerting.SlackOptions{
			WebhookURL: s.WebhookURL, BotToken: s.BotToken, Channel: s.Channel, APIURL: apiURL,
			StatusPageURL: cfg.Server.PublicURL + "/status", Threads: threads, Dial: dial,
			Name: s.Name, Filter: s.Filter, SigningSecret: s.Signing(),
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.ChannelName(), err)
		}
		sinks = append(sinks, slack)
	}
	for _, w := range a.Webhooks {
		wh, err := alerting.NewWebhook(w.Name, w.URL, w.Secret, dial)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", w.Name, err)
		}
		wh.SetFilter(w.Filter)
		sinks = append(sinks, wh)
	}
	return sinks, nil
}

// slackApps are the Slack entries whose messages carry actions (bot mode
// with a signing secret): the apps /slack/interactions answers for.
func slackApps(sinks []alerting.Sink) []*alerting.Slack {
	var out []*alerting.Slack
	for _, s := range sinks {
		if sl, ok := s.(*alerting.Slack); ok && sl.Interactive() {
			out = append(out, sl)
		}
	}
	return out
}

// storageSenders are the channels of sinks that carry the database outage
// alerts: every configured one (Slack, Sentry, the config file's
// webhooks); subscriptions live in the database.
func storageSenders(sinks []alerting.Sink) []alerting.StorageSender {
	var out []alerting.StorageSender
	for _, s := range sinks {
		if ss, ok := s.(alerting.StorageSender); ok {
			out = append(out, ss)
		}
	}
	return out
}

// newMetrics returns the DataDog client, or nil (a no-op) without one.
func newMetrics(cfg *config.Config) (*datadog.Metrics, error) {
	d := cfg.Alerts.DataDog
	if d == nil {
		return nil, nil
	}
	// A target missing three rounds running has been removed by a reload:
	// it stops counting in check.targets.
	return datadog.New(datadog.Options{Addr: d.Addr, Namespace: d.Namespace, Tags: d.Tags, PerTargetTags: d.PerLinkTags,
		StaleAfter: 3*time.Duration(cfg.Probe.Interval) + time.Duration(cfg.Probe.Timeout)})
}
