package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"linkwatch"
)

const scopedPages = `
pages:
  - slug: acme
    links:
      - {slug: shop, url: 'https://shop.example/'}
  - slug: beta
    links:
      - {slug: store, url: 'https://store.example/'}
`

// The single mapping form of alerts.slack keeps working, as channel
// "slack"; a list gives several entries, each its own channel and filters.
func TestSlackEntriesOneOrMany(t *testing.T) {
	cfg, err := Parse(t.Context(), []byte("alerts: {slack: {webhook_url: 'https://hooks.example/T', pages: [acme], min_impact: major}}\n"+scopedPages), "t.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Alerts.Slack) != 1 || cfg.Alerts.Slack[0].ChannelName() != "slack" || !slices.Equal(cfg.Alerts.Slack[0].Pages, []string{"acme"}) ||
		cfg.Alerts.Slack[0].MinImpact != linkwatch.ImpactMajor {
		t.Fatalf("single form: %+v", cfg.Alerts.Slack)
	}
	list := `alerts:
  slack:
    - {name: team-a, bot_token: xoxb-1, channel: '#acme', pages: [acme]}
    - {name: team-b, webhook_url: 'https://hooks.example/B', links: [beta/store], hosts: [store.example], events: [incident.opened, incident.resolved]}
  webhooks:
    - {name: acme, url: 'https://hooks.example/acme', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==', pages: [acme], events: [incident.resolved]}
` + scopedPages
	cfg, err = Parse(t.Context(), []byte(list), "t.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Alerts.Slack
	if len(s) != 2 || s[0].ChannelName() != "slack:team-a" || s[1].ChannelName() != "slack:team-b" || !slices.Equal(s[1].Links, []string{"beta/store"}) ||
		!slices.Equal(s[1].Events, []linkwatch.AlertType{linkwatch.AlertOpened, linkwatch.AlertResolved}) {
		t.Fatalf("list form: %+v", s)
	}
	if w := cfg.Alerts.Webhooks[0]; !slices.Equal(w.Pages, []string{"acme"}) || !slices.Equal(w.Events, []linkwatch.AlertType{linkwatch.AlertResolved}) {
		t.Errorf("webhook filters: %+v", w.Filter)
	}
}

func TestAlertFiltersRejected(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want []string
	}{
		"several slack entries without names": {"alerts: {slack: [{webhook_url: 'https://hooks.example/A'}, {webhook_url: 'https://hooks.example/B'}]}",
			[]string{"alerts.slack[0].name: is required when there are several", "alerts.slack[1].name: is required"}},
		"duplicate slack names": {"alerts: {slack: [{name: a, webhook_url: 'https://hooks.example/A'}, {name: a, webhook_url: 'https://hooks.example/B'}]}",
			[]string{`alerts.slack[1].name: "a" is already used by alerts.slack[0]`}},
		"bad slack entry in a list": {"alerts: {slack: [{name: a, bot_token: xoxp-1, channel: x}]}", []string{"alerts.slack[0].bot_token: must be a bot token"}},
		"unknown key in a list entry": {"alerts: {slack: [{name: a, webhook_url: 'https://hooks.example/A', pagez: [acme]}]}",
			[]string{`alerts.slack[0].pagez: unknown field (did you mean "pages"?)`}},
		"slack not a list or mapping": {"alerts: {slack: hooks}", []string{"alerts.slack: must be a list"}},
		"bad event":                   {"alerts: {slack: {webhook_url: 'https://hooks.example/A', events: [incident.deleted]}}", []string{"alerts.slack.events[0]: must be incident.opened"}},
		"bad impact": {"alerts: {webhooks: [{name: a, url: 'https://h.example/', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==', min_impact: severe}]}",
			[]string{"alerts.webhooks[0].min_impact: must be none, minor, major or critical"}},
		"unknown page": {"alerts: {webhooks: [{name: a, url: 'https://h.example/', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==', pages: [acme, gamma]}]}",
			[]string{`alerts.webhooks[0].pages[1]: no page "gamma" is configured`}},
		"unknown link": {"alerts: {slack: [{name: a, webhook_url: 'https://hooks.example/A', links: [acme/cart]}]}",
			[]string{`alerts.slack[0].links[0]: no link "acme/cart" is configured`}},
		"host with a scheme": {"alerts: {slack: {webhook_url: 'https://hooks.example/A', hosts: ['https://shop.example']}}",
			[]string{"alerts.slack.hosts[0]: must be a lowercase host name"}},
		"pages not a list": {"alerts: {slack: {webhook_url: 'https://hooks.example/A', pages: acme}}", []string{"alerts.slack.pages: must be a list"}},
		"hosts that never match": {"alerts: {slack: {webhook_url: 'https://hooks.example/A', hosts: ['<script>', '*', 'é.example', 'shop.example']}}",
			[]string{"alerts.slack.hosts[0]: must be a lowercase host name", "alerts.slack.hosts[1]: must be a lowercase host name",
				`alerts.slack.hosts[2]: must be written in ASCII: "xn--9ca.example" for "é.example"`}},
		"every filter problem at once": {"alerts: {webhooks: [{name: a, url: 'https://h.example/', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==', pages: [gamma], links: [acme/cart], events: [incident.deleted], min_impact: severe}]}",
			[]string{`alerts.webhooks[0].pages[0]: no page "gamma" is configured`, `alerts.webhooks[0].links[0]: no link "acme/cart" is configured`,
				"alerts.webhooks[0].events[0]: must be incident.opened", "alerts.webhooks[0].min_impact: must be none"}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse(t.Context(), []byte(tc.yaml+"\n"+scopedPages), "t.yaml", func(string) string { return "" })
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("accepted (%v): %+v", err, cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
