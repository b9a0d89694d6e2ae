package main

import (
	"fmt"
	"time"

	"linkwatch/alerting"
	"linkwatch/checker"
	"linkwatch/storage"
)

// newSinks builds the configured alert channels.
func newSinks(cfg *Config, db *storage.DB) ([]alerting.Sink, error) {
	var sinks []alerting.Sink
	a := cfg.Alerts
	if s := a.Slack; s != nil {
		slack, err := alerting.NewSlack(alerting.SlackOptions{
			WebhookURL: s.WebhookURL, BotToken: s.BotToken, Channel: s.Channel,
			StatusPageURL: cfg.Server.PublicURL + "/status", Threads: db,
		})
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, slack)
	}
	// Webhook URLs come from users of the config: the prober's SSRF guard
	// applies to them too.
	dial := alerting.DialFunc(checker.GuardedDialContext(cfg.Probe.allowPrefixes, 10*time.Second))
	for _, w := range a.Webhooks {
		wh, err := alerting.NewWebhook(w.Name, w.URL, w.Secret, dial)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", w.Name, err)
		}
		sinks = append(sinks, wh)
	}
	return sinks, nil
}
