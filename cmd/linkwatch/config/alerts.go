package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"linkwatch"

	"go.yaml.in/yaml/v3"

	"linkwatch/alerting"
	"linkwatch/hub"
)

// AlertsConfig is where incident alerts and metrics go. Every secret in it
// should come from the environment: ${SLACK_WEBHOOK_URL}.
type AlertsConfig struct {
	// Slack is one entry (a mapping, as before) or several (a list), each
	// with its own channel and filters: per-team channels.
	Slack    SlackEntries    `yaml:"slack"`
	Sentry   *SentryConfig   `yaml:"sentry"`
	Webhooks []WebhookConfig `yaml:"webhooks"`
	DataDog  *DataDogConfig  `yaml:"datadog"`
	// Email mails the status page's subscribers (issue 28).
	Email *EmailConfig `yaml:"email"`
	// GroupInterval folds the updates of one incident made within it into
	// one message (default 30s; 0s sends each update at once).
	GroupInterval *Duration `yaml:"group_interval"`
	// DatabaseOutageAfter is how long a replica's storage checks must
	// fail (two at least) before it alerts that the database is out of
	// reach (storage.unreachable; default 30s): a failover's seconds are
	// not an outage.
	DatabaseOutageAfter *Duration `yaml:"database_outage_after"`
}

// Bounds of alerts.database_outage_after: storage is checked every second
// at most, and an outage noticed an hour late is not an alert.
const (
	minDatabaseOutageAfter = time.Second
	maxDatabaseOutageAfter = time.Hour
)

// maxGroupInterval bounds how long an update may wait for others.
const maxGroupInterval = 10 * time.Minute

// SlackConfig is an incoming webhook, or a bot token and channel (which
// threads updates under the first message and edits it on resolution).
type SlackConfig struct {
	// Name tells several entries apart: the outbox channel is
	// "slack:<name>". Required in a list of more than one; the single
	// mapping form keeps the channel "slack".
	Name       string `yaml:"name"`
	WebhookURL string `yaml:"webhook_url"`
	BotToken   string `yaml:"bot_token"`
	Channel    string `yaml:"channel"`
	// APIURL is the Web API base for bot mode (default Slack's own,
	// https://slack.com/api/): a Slack-compatible server or a local fake.
	APIURL string `yaml:"api_url"`
	// SigningSecret is the Slack app's signing secret (bot mode): set, the
	// incident message carries buttons (acknowledge, post an update,
	// resolve, write the postmortem), and Slack's requests to
	// /slack/interactions are verified with it. A pointer, so a key
	// written empty is an error rather than buttons silently off.
	SigningSecret *string `yaml:"signing_secret"`
	// The alerts this entry gets: pages, links, hosts, events, min_impact.
	linkwatch.Filter `yaml:",inline"`

	listed bool // written as a list entry, for error paths
}

// SlackEntries are the Slack entries: a single mapping or a list.
type SlackEntries []SlackConfig

// UnmarshalYAML takes the single mapping form (every config before
// several entries were allowed) or a list.
func (e *SlackEntries) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var one SlackConfig
		if err := n.Decode(&one); err != nil {
			return err
		}
		*e = SlackEntries{one}
		return nil
	}
	var list []SlackConfig
	if err := n.Decode(&list); err != nil {
		return err
	}
	for i := range list {
		list[i].listed = true
	}
	*e = list
	return nil
}

// oneOrMany marks a list that may also be written as its single element.
func (SlackEntries) oneOrMany() {}

// ChannelName is the entry's outbox channel.
func (s SlackConfig) ChannelName() string {
	return linkwatch.SlackChannel(s.Name)
}

// Signing returns the entry's signing secret, "" without one (no
// buttons).
func (s SlackConfig) Signing() string {
	if s.SigningSecret == nil {
		return ""
	}
	return *s.SigningSecret
}

// minSigningSecret is the shortest signing secret taken: Slack's are 32
// hexadecimal characters; a short one is a typo or a placeholder.
const minSigningSecret = 16

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
	// The alerts this receiver gets: pages, links, hosts, events, min_impact.
	linkwatch.Filter `yaml:",inline"`
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
	if d := a.DatabaseOutageAfter; d != nil && (*d < Duration(minDatabaseOutageAfter) || *d > Duration(maxDatabaseOutageAfter)) {
		cerr.add("alerts.database_outage_after", "must be from %s to %s", minDatabaseOutageAfter, maxDatabaseOutageAfter)
	}
	slackNames := map[string]int{}
	for i, s := range a.Slack {
		p := "alerts.slack"
		if s.listed {
			p = fmt.Sprintf("alerts.slack[%d]", i)
		}
		switch {
		case s.Name == "" && len(a.Slack) > 1:
			cerr.add(p+".name", "is required when there are several Slack entries (the channel is slack:<name>)")
		case s.Name == "":
		case !webhookNamePattern.MatchString(s.Name):
			cerr.add(p+".name", "must be 1-32 lowercase letters, digits, - or _")
		default:
			if j, dup := slackNames[s.Name]; dup {
				cerr.add(p+".name", "%q is already used by alerts.slack[%d]", s.Name, j)
			} else {
				slackNames[s.Name] = i
			}
		}
		switch {
		case s.WebhookURL == "" && s.BotToken == "":
			cerr.add(p, "set webhook_url, or bot_token and channel")
		case s.WebhookURL != "" && s.BotToken != "":
			cerr.add(p, "set webhook_url or bot_token, not both")
		case s.WebhookURL != "":
			if err := hub.ValidateURL(s.WebhookURL); err != nil {
				cerr.add(p+".webhook_url", "%v", err)
			}
		default:
			if !strings.HasPrefix(s.BotToken, "xoxb-") {
				cerr.add(p+".bot_token", "must be a bot token (xoxb-...)")
			}
			if s.Channel == "" {
				cerr.add(p+".channel", "is required with bot_token")
			}
		}
		if ss := s.SigningSecret; ss != nil {
			switch {
			case s.BotToken == "":
				cerr.add(p+".signing_secret", "applies only with bot_token: Slack's buttons need the bot's messages and modals")
			case *ss == "":
				cerr.add(p+".signing_secret", "is empty: set the Slack app's signing secret (Basic Information, App Credentials), or remove the key to turn the buttons off")
			case len(*ss) < minSigningSecret || strings.ContainsFunc(*ss, func(r rune) bool { return r <= ' ' || r == 0x7f }):
				cerr.add(p+".signing_secret", "must be the Slack app's signing secret (Basic Information, App Credentials: %d characters or more, no spaces), not a token", minSigningSecret)
			case strings.HasPrefix(*ss, "xox"):
				cerr.add(p+".signing_secret", "is a token, not the signing secret (Basic Information, App Credentials)")
			}
		}
		if s.APIURL != "" {
			if s.BotToken == "" {
				cerr.add(p+".api_url", "applies only with bot_token (an incoming webhook has its own URL)")
			} else if err := hub.ValidateURL(s.APIURL); err != nil {
				cerr.add(p+".api_url", "%v", err)
			} else if u, _ := url.Parse(s.APIURL); u.RawQuery != "" || u.Fragment != "" {
				cerr.add(p+".api_url", "must be a base URL such as https://slack.com/api/ (no query or fragment)")
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
	if e := a.Email; e != nil {
		e.validate(cerr)
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

// validateAlertScopes checks the filters of every alert entry with the
// one filter validator (linkwatch.Filter.Check, which the admin API uses
// for subscriptions too): their form, and that the pages and links they
// name are configured, since a typo would silently send a team nothing.
func (c *Config) validateAlertScopes(cerr *Error) {
	pages := linkwatch.PageLinks{}
	for _, p := range c.Pages {
		links := []string{}
		for _, l := range p.Links {
			links = append(links, l.Slug)
		}
		pages[p.Slug] = links
	}
	check := func(path string, f linkwatch.Filter) {
		for _, fe := range f.Check(pages) {
			cerr.add(path+"."+fe.Field, "%s", fe.Msg)
		}
	}
	for i, s := range c.Alerts.Slack {
		p := "alerts.slack"
		if s.listed {
			p = fmt.Sprintf("alerts.slack[%d]", i)
		}
		check(p, s.Filter)
	}
	for i, w := range c.Alerts.Webhooks {
		check(fmt.Sprintf("alerts.webhooks[%d]", i), w.Filter)
	}
}
