package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"linkwatch/alerting"
	"linkwatch/hub"
)

// AlertsConfig is where incident alerts and metrics go. Every secret in it
// should come from the environment: ${SLACK_WEBHOOK_URL}.
type AlertsConfig struct {
	Slack    *SlackConfig    `yaml:"slack"`
	Sentry   *SentryConfig   `yaml:"sentry"`
	Webhooks []WebhookConfig `yaml:"webhooks"`
	DataDog  *DataDogConfig  `yaml:"datadog"`
	// GroupInterval folds the updates of one incident made within it into
	// one message (default 30s; 0s sends each update at once).
	GroupInterval *Duration `yaml:"group_interval"`
}

// maxGroupInterval bounds how long an update may wait for others.
const maxGroupInterval = 10 * time.Minute

// SlackConfig is an incoming webhook, or a bot token and channel (which
// threads updates under the first message and edits it on resolution).
type SlackConfig struct {
	WebhookURL string `yaml:"webhook_url"`
	BotToken   string `yaml:"bot_token"`
	Channel    string `yaml:"channel"`
	// APIURL is the Web API base for bot mode (default Slack's own,
	// https://slack.com/api/): a Slack-compatible server or a local fake.
	APIURL string `yaml:"api_url"`
}

// SentryConfig sends one Sentry issue per incident, internal errors, and a
// prober heartbeat (Sentry Crons).
type SentryConfig struct {
	DSN         string `yaml:"dsn"`
	Environment string `yaml:"environment"`
}

// WebhookConfig is a Standard Webhooks receiver.
type WebhookConfig struct {
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"` // whsec_<base64>
}

// DataDogConfig is a DogStatsD agent.
type DataDogConfig struct {
	Addr        string   `yaml:"addr"`          // host:port, UDP (default 127.0.0.1:8125)
	Namespace   string   `yaml:"namespace"`     // default "linkwatch."
	Tags        []string `yaml:"tags"`          // global tags, e.g. env:prod
	PerLinkTags bool     `yaml:"per_link_tags"` // opt-in high-cardinality target tag
}

var webhookNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// validate checks the alert channels. Messages never repeat a secret
// value: they say what is wrong with it.
func (a *AlertsConfig) validate(cerr *Error) {
	if g := a.GroupInterval; g != nil && (*g < 0 || *g > Duration(maxGroupInterval)) {
		cerr.add("alerts.group_interval", "must be from 0s (no grouping) to %s", maxGroupInterval)
	}
	if s := a.Slack; s != nil {
		switch {
		case s.WebhookURL == "" && s.BotToken == "":
			cerr.add("alerts.slack", "set webhook_url, or bot_token and channel")
		case s.WebhookURL != "" && s.BotToken != "":
			cerr.add("alerts.slack", "set webhook_url or bot_token, not both")
		case s.WebhookURL != "":
			if err := hub.ValidateURL(s.WebhookURL); err != nil {
				cerr.add("alerts.slack.webhook_url", "%v", err)
			}
		default:
			if !strings.HasPrefix(s.BotToken, "xoxb-") {
				cerr.add("alerts.slack.bot_token", "must be a bot token (xoxb-...)")
			}
			if s.Channel == "" {
				cerr.add("alerts.slack.channel", "is required with bot_token")
			}
		}
		if s.APIURL != "" {
			if s.BotToken == "" {
				cerr.add("alerts.slack.api_url", "applies only with bot_token (an incoming webhook has its own URL)")
			} else if err := hub.ValidateURL(s.APIURL); err != nil {
				cerr.add("alerts.slack.api_url", "%v", err)
			} else if u, _ := url.Parse(s.APIURL); u.RawQuery != "" || u.Fragment != "" {
				cerr.add("alerts.slack.api_url", "must be a base URL such as https://slack.com/api/ (no query or fragment)")
			}
		}
	}
	if s := a.Sentry; s != nil {
		u, err := url.Parse(s.DSN)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User == nil || u.User.Username() == "" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			cerr.add("alerts.sentry.dsn", "must be a Sentry DSN such as https://<key>@o0.ingest.sentry.io/<project>")
		}
	}
	names := map[string]int{}
	for i, w := range a.Webhooks {
		p := fmt.Sprintf("alerts.webhooks[%d]", i)
		if !webhookNamePattern.MatchString(w.Name) {
			cerr.add(p+".name", "must be 1-32 lowercase letters, digits, - or _")
		} else if j, dup := names[w.Name]; dup {
			cerr.add(p+".name", "%q is already used by alerts.webhooks[%d]", w.Name, j)
		} else {
			names[w.Name] = i
		}
		if err := hub.ValidateURL(w.URL); err != nil {
			cerr.add(p+".url", "%v", err)
		}
		if _, err := alerting.NewWebhook(w.Name, "https://example.invalid/", w.Secret, nil); err != nil {
			cerr.add(p+".secret", "%v", err)
		}
	}
	if d := a.DataDog; d != nil {
		if _, _, err := net.SplitHostPort(d.Addr); err != nil {
			cerr.add("alerts.datadog.addr", "must be host:port")
		}
		for i, t := range d.Tags {
			if t == "" || strings.ContainsAny(t, "|,# \n") {
				cerr.add(fmt.Sprintf("alerts.datadog.tags[%d]", i), "must be a tag such as env:prod (no spaces, | , or #)")
			}
		}
	}
}
