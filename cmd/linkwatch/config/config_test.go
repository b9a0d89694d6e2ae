package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"linkwatch/hub"
)

const validPages = `
pages:
  - slug: ada
    links:
      - slug: go
        url: https://go.dev/
`

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every error line expected, each "path: message" substring
	}{
		{"empty file", ``, []string{"pages: at least one page is required"}},
		{"not yaml", "pages: [", []string{"(file): not valid YAML"}},
		{"root not a mapping", "- a\n- b\n", []string{"(root): must be a mapping"}},
		{"unknown top-level key", "sever: {}\n" + validPages, []string{`sever: unknown field (did you mean "server"?)`}},
		{"unknown nested key", "server: {adr: ':1'}\n" + validPages, []string{`server.adr: unknown field (did you mean "addr"?)`}},
		{"unknown link key", "pages:\n  - slug: a\n    links:\n      - {slug: x, url: 'https://e.com/', urll: y}\n",
			[]string{`pages[0].links[0].urll: unknown field (did you mean "url"?)`}},
		{"duplicate key", "server: {addr: ':1', addr: ':2'}\n" + validPages, []string{"addr"}},
		{"pages not a list", "pages: {slug: a}\n", []string{"pages: must be a list"}},
		{"no pages", "pages: []\n", []string{"pages: at least one page is required"}},
		{"bad addr", "server: {addr: 'localhost'}\n" + validPages, []string{"server.addr: must be host:port"}},
		{"bad public url", "server: {public_url: 'ftp://x'}\n" + validPages, []string{"server.public_url: scheme must be http or https"}},
		{"public url with path", "server: {public_url: 'https://x.example/links'}\n" + validPages, []string{"server.public_url: must be a bare origin"}},
		{"short admin token", "server: {admin_token: 'abc'}\n" + validPages, []string{"server.admin_token: must be at least 16 characters"}},
		{"unset env var", "server: {admin_token: '${NOPE}'}\n" + validPages, []string{"server.admin_token: environment variable NOPE is not set"}},
		{"storage path with query", "storage: {path: 'x.db?mode=memory'}\n" + validPages, []string{"storage.path: must not contain ? or #"}},
		{"unknown storage driver", "storage: {driver: mysql}\n" + validPages, []string{`storage.driver: must be sqlite or postgres, not "mysql"`}},
		{"postgres without dsn", "storage: {driver: postgres}\n" + validPages, []string{"storage.dsn: is required for driver postgres"}},
		{"dsn for sqlite", "storage: {dsn: 'postgres://db.internal/lw'}\n" + validPages, []string{"storage.dsn: is for driver postgres"}},
		{"bad dsn", "storage: {driver: postgres, dsn: 'postgres://lw:T0KEN@db.internal:port/lw'}\n" + validPages, []string{"storage.dsn: invalid dsn: invalid port"}},
		{"bad dsn option", "storage: {driver: postgres, dsn: 'host=db.internal password=T0KEN sslmode=maybe'}\n" + validPages, []string{"storage.dsn: invalid dsn:"}},
		{"dsn env unset", "storage: {driver: postgres, dsn: 'postgres://lw:${NOPE}@db.internal/lw'}\n" + validPages, []string{"storage.dsn: environment variable NOPE is not set"}},
		{"bad durations", "probe: {interval: 10, timeout: soon}\nstorage: {retention: {raw: 1d}}\n" + validPages, []string{
			`probe.interval: "10" is not a duration`, `probe.timeout: "soon" is not a duration`, `storage.retention.raw: "1d" is not a duration`}},
		{"timeout not below interval", "probe: {interval: 5s, timeout: 5s}\n" + validPages, []string{"probe.timeout: must be positive and below probe.interval (5s)"}},
		{"probe limits", "probe: {interval: 100ms, workers: -1, per_host: 5000, hub_slow: -1s, user_agent: \"a\\nb\"}\n" + validPages, []string{
			"probe.interval: must be at least 1s", "probe.timeout: must be positive and below", "probe.workers: must be between", "probe.per_host: must be between",
			"probe.hub_slow: must be positive", "probe.user_agent: must not contain control characters"}},
		{"fresh_every negative", "probe: {fresh_every: -1s}\n" + validPages, []string{"probe.fresh_every: must be between 0 (every check fresh) and 1h"}},
		{"fresh_every too long", "probe: {fresh_every: 2h}\n" + validPages, []string{"probe.fresh_every: must be between 0 (every check fresh) and 1h"}},
		{"fresh_every not a duration", "probe: {fresh_every: 60}\n" + validPages, []string{`probe.fresh_every: "60" is not a duration`}},
		{"keep_alive_hosts negative", "probe: {keep_alive_hosts: -5}\n" + validPages, []string{"probe.keep_alive_hosts: must be between 1 and 1000000"}},
		{"keep_alive_hosts too many", "probe: {keep_alive_hosts: 2000000}\n" + validPages, []string{"probe.keep_alive_hosts: must be between 1 and 1000000"}},
		{"email: nothing set", "alerts: {email: {}}\n" + validPages, []string{"alerts.email.host: is required", "alerts.email.from: is required"}},
		{"email: bad values", "alerts: {email: {host: 'smtp example', port: 70000, security: ssl, from: 'Status <s@x.example>', user: u}}\n" + validPages, []string{
			"alerts.email.host: must be a host name or an IP address", "alerts.email.security: must be starttls, tls or none",
			"alerts.email.port: must be from 1 to 65535", "alerts.email.from: must be a plain address", "alerts.email.password: user and password go together"}},
		{"email: cleartext off loopback", "alerts: {email: {host: smtp.example.com, security: none, from: s@x.example, user: u, password: T0KEN}}\n" + validPages,
			[]string{"alerts.email.security: none sends mail and the password in the clear: only for a relay on loopback"}},
		{"email: password env unset", "alerts: {email: {host: smtp.example.com, from: s@x.example, user: u, password: '${NOPE}'}}\n" + validPages,
			[]string{"alerts.email.password: environment variable NOPE is not set", "alerts.email.password: user and password go together"}},
		{"email: unknown key", "alerts: {email: {host: smtp.example.com, from: s@x.example, tls: true}}\n" + validPages, []string{"alerts.email.tls: unknown field"}},
		{"page subscribe not a bool", "pages:\n  - {slug: a, subscribe: maybe, links: [{slug: x, url: 'https://e.com/'}]}\n", []string{"pages[0].subscribe"}},
		{"negative drain delay", "server: {drain_delay: -1s}\n" + validPages, []string{"server.drain_delay: must be between 0 and 5m"}},
		{"drain delay not a duration", "server: {drain_delay: 5}\n" + validPages, []string{`server.drain_delay: "5" is not a duration`}},
		{"tls_warn zero", "probe: {tls_warn: 0s}\n" + validPages, []string{"probe.tls_warn: must be between 1h and 8760h"}},
		{"region with capitals", "probe: {region: EU-West}\n" + validPages, []string{`probe.region: "EU-West" must be 1 to 32 lowercase letters, digits and hyphens`}},
		{"region with a space", "probe: {region: 'eu west'}\n" + validPages, []string{`probe.region: "eu west" must be`}},
		{"region too long", "probe: {region: " + strings.Repeat("a", 33) + "}\n" + validPages, []string{"probe.region: "}},
		{"region env unset", "probe: {region: '${LINKWATCH_REGION}'}\n" + validPages, []string{"probe.region: environment variable LINKWATCH_REGION is not set"}},
		{"tls_warn too long", "probe: {tls_warn: 9000h}\n" + validPages, []string{"probe.tls_warn: must be between 1h and 8760h"}},
		{"tls_warn not a duration", "probe: {tls_warn: 14d}\n" + validPages, []string{`probe.tls_warn: "14d" is not a duration`}},
		{"bad allow_private", "probe: {allow_private: ['10.0.0.0/8', 'localhost', '10.0.0.1']}\n" + validPages, []string{
			`probe.allow_private[1]: "localhost" is not a CIDR`, `probe.allow_private[2]: "10.0.0.1" is not a CIDR`}},
		{"retention order", "storage: {retention: {raw: 30m, minute_rollups: 24h, rollups: 1h}}\n" + validPages, []string{
			"storage.retention.raw: must be at least 1h", "storage.retention.rollups: must be at least storage.retention.minute_rollups"}},
		{"bad expectations", `pages:
  - slug: a
    links:
      - slug: x
        url: https://shop.example/
        expect: {status: [200, 999], final_host: "shop.example/path", bodycontains: x}
      - slug: y
        url: https://shop.example/
`, []string{
			`pages[0].links[0].expect.bodycontains: unknown field (did you mean "body_contains"?)`,
			"pages[0].links[0].expect.status[1]: must be an HTTP status code (100 to 599)",
			"pages[0].links[0].expect.final_host: must be a bare host name",
			"pages[0].links[1].expect: differs from pages[0].links[0], which has the same url",
		}},
		{"bad alerts", `alerts:
  slack: {webhook_url: "https://hooks.example/T0KEN", bot_token: "xoxb-T0KEN"}
  sentry: {dsn: "https://o0.ingest.sentry.io/42"}
  webhooks:
    - {name: ops, url: "ftp://hooks.example/", secret: "T0KEN-not-whsec"}
    - {name: ops, url: "https://hooks.example/", secret: "whsec_T0KEN!!"}
    - {name: "Bad Name", url: "https://hooks.example/", secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
  datadog: {addr: "localhost", tags: ["env prod"]}
` + validPages, []string{
			"alerts.slack: set webhook_url or bot_token, not both",
			"alerts.sentry.dsn: must be a Sentry DSN",
			"alerts.webhooks[0].url: scheme must be http or https",
			`alerts.webhooks[0].secret: secret must start with "whsec_"`,
			`alerts.webhooks[1].name: "ops" is already used by alerts.webhooks[0]`,
			"alerts.webhooks[1].secret: secret must be whsec_ followed by",
			"alerts.webhooks[2].name: must be 1-32 lowercase letters",
			"alerts.datadog.addr: must be host:port",
			"alerts.datadog.tags[0]: must be a tag",
		}},
		{"bad fallbacks", `pages:
  - slug: a
    links:
      - {slug: v, url: 'https://shop.example/', fallback: 'ftp://backup.example/'}
      - {slug: w, url: 'https://shop.example/', fallback: 'https://shop.example/'}
      - {slug: x, url: 'https://shop.example/', fallback: 'https://u:p@backup.example/'}
      - {slug: y, url: 'https://shop.example/', fallback: 'backup.example'}
`, []string{
			"pages[0].links[0].fallback: scheme must be http or https",
			"pages[0].links[1].fallback: must differ from the link's url",
			"pages[0].links[2].fallback: must not contain credentials",
			"pages[0].links[3].fallback: scheme must be http or https",
		}},
		{"bad trusted proxy", "server: {trusted_proxies: ['10.0.0.0/8', 'proxy.local']}\n" + validPages, []string{`server.trusted_proxies[1]: "proxy.local" is not a CIDR`}},
		{"ipv6 prefix too short", "server: {rate_limit: {ipv6_prefix: 16}}\n" + validPages, []string{"server.rate_limit.ipv6_prefix: must be between 32 and 128"}},
		{"ipv6 prefix too long", "server: {rate_limit: {ipv6_prefix: 129}}\n" + validPages, []string{"server.rate_limit.ipv6_prefix: must be between 32 and 128"}},
		{"ipv6 prefix negative", "server: {rate_limit: {ipv6_prefix: -64}}\n" + validPages, []string{"server.rate_limit.ipv6_prefix: must be between 32 and 128"}},
		{"ipv6 prefix not a number", "server: {rate_limit: {ipv6_prefix: /64}}\n" + validPages, []string{"server.rate_limit.ipv6_prefix: must be an integer"}},
		{"slack bot without channel", "alerts: {slack: {bot_token: xoxb-1}}\n" + validPages, []string{"alerts.slack.channel: is required with bot_token"}},
		{"negative group interval", "alerts: {group_interval: -5s}\n" + validPages, []string{"alerts.group_interval: must be from 0s (no grouping) to 10m0s"}},
		{"group interval too long", "alerts: {group_interval: 1h}\n" + validPages, []string{"alerts.group_interval: must be from 0s (no grouping) to 10m0s"}},
		{"group interval not a duration", "alerts: {group_interval: soon}\n" + validPages, []string{`alerts.group_interval: "soon" is not a duration`}},
		{"database outage after too short", "alerts: {database_outage_after: 500ms}\n" + validPages, []string{"alerts.database_outage_after: must be from 1s to 1h0m0s"}},
		{"database outage after negative", "alerts: {database_outage_after: -30s}\n" + validPages, []string{"alerts.database_outage_after: must be from 1s to 1h0m0s"}},
		{"database outage after zero", "alerts: {database_outage_after: 0s}\n" + validPages, []string{"alerts.database_outage_after: must be from 1s to 1h0m0s"}},
		{"database outage after too long", "alerts: {database_outage_after: 2h}\n" + validPages, []string{"alerts.database_outage_after: must be from 1s to 1h0m0s"}},
		{"database outage after not a duration", "alerts: {database_outage_after: later}\n" + validPages, []string{`alerts.database_outage_after: "later" is not a duration`}},
		{"slack api_url not a URL", "alerts: {slack: {bot_token: xoxb-1, channel: ops, api_url: 'ftp://slack.local/api/'}}\n" + validPages,
			[]string{"alerts.slack.api_url: scheme must be http or https"}},
		{"slack api_url with credentials", "alerts: {slack: {bot_token: xoxb-1, channel: ops, api_url: 'https://u:p@slack.local/api/'}}\n" + validPages,
			[]string{"alerts.slack.api_url: must not contain credentials"}},
		{"slack api_url with query", "alerts: {slack: {bot_token: xoxb-1, channel: ops, api_url: 'https://slack.local/api/?x=1'}}\n" + validPages,
			[]string{"alerts.slack.api_url: must be a base URL"}},
		{"slack api_url with a webhook", "alerts: {slack: {webhook_url: 'https://hooks.example/T', api_url: 'https://slack.local/api/'}}\n" + validPages,
			[]string{"alerts.slack.api_url: applies only with bot_token"}},
		{"slack bot token kind", "alerts: {slack: {bot_token: xoxp-1, channel: ops}}\n" + validPages, []string{"alerts.slack.bot_token: must be a bot token"}},
		{"slack signing secret empty", "alerts: {slack: {bot_token: xoxb-1, channel: ops, signing_secret: ''}}\n" + validPages,
			[]string{"alerts.slack.signing_secret: is empty: set the Slack app's signing secret"}},
		{"slack signing secret from an unset variable", "alerts: {slack: {bot_token: xoxb-1, channel: ops, signing_secret: '${SLACK_SIGNING_SECRET}'}}\n" + validPages,
			[]string{"alerts.slack.signing_secret: environment variable SLACK_SIGNING_SECRET is not set",
				"alerts.slack.signing_secret: is empty: set the Slack app's signing secret"}},
		{"slack signing secret with a webhook", "alerts: {slack: {webhook_url: 'https://hooks.example/T', signing_secret: 8f742231b10e8888abcd99yyyzzz85a5}}\n" + validPages,
			[]string{"alerts.slack.signing_secret: applies only with bot_token"}},
		{"slack signing secret too short", "alerts: {slack: [{name: a, bot_token: xoxb-1, channel: ops, signing_secret: abc123}]}\n" + validPages,
			[]string{"alerts.slack[0].signing_secret: must be the Slack app's signing secret"}},
		{"slack signing secret with a space", "alerts: {slack: {bot_token: xoxb-1, channel: ops, signing_secret: 'abcdef0123456789 abcdef0123456789'}}\n" + validPages,
			[]string{"alerts.slack.signing_secret: must be the Slack app's signing secret"}},
		{"slack signing secret is a token", "alerts: {slack: {bot_token: xoxb-1, channel: ops, signing_secret: xoxb-0123456789abcdef}}\n" + validPages,
			[]string{"alerts.slack.signing_secret: is a token, not the signing secret"}},
		{"every bad link", `pages:
  - slug: ada
    links:
      - {slug: go, url: 'https://go.dev/'}
      - {slug: go, url: 'https://go.dev/'}
      - {slug: Bad, url: 'ftp://x/'}
      - {slug: qr, url: 'https://user:pw@x/'}
      - {slug: sp, url: "https://x/\u0007"}
      - {slug: nohost, url: 'https:///x'}
      - {slug: empty}
  - slug: status
  - slug: ada
  - slug: chart
`, []string{
			`pages[0].links[1].slug: "go" is already used by pages[0].links[0]`,
			"pages[0].links[2].slug: must be 1-64 lowercase letters",
			"pages[0].links[2].url: scheme must be http or https",
			"pages[0].links[3].url: must not contain credentials",
			"pages[0].links[4].url: has a control character",
			"pages[0].links[5].url: must have a host",
			"pages[0].links[6].url: is required",
			`pages[1].slug: "status" is reserved`,
			`pages[2].slug: "ada" is already used by pages[0]`,
			`pages[3].slug: "chart" is reserved: linkwatch serves /chart itself`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(t.Context(), []byte(tt.yaml), "test.yaml", func(string) string { return "" })
			if err == nil {
				t.Fatalf("accepted bad config: %+v", cfg)
			}
			if cfg != nil {
				t.Error("returned a config along with an error")
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			if strings.Contains(err.Error(), "T0KEN") {
				t.Errorf("a config error repeats a secret:\n%v", err)
			}
			if len(cerr.Errs) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(cerr.Errs), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseConfigDefaultsAndEnv(t *testing.T) {
	env := map[string]string{"TOKEN": "[not, a]: list # 0123456789", "SLUG_URL": "https://go.dev/?q=[a]&b={c}"}
	cfg, err := Parse(t.Context(), []byte(`
server:
  addr: "127.0.0.1:9000"
  admin_token: ${TOKEN}
pages:
  - slug: ada
    links:
      - slug: go
        url: ${SLUG_URL}
`), "t.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.AdminToken != env["TOKEN"] {
		t.Errorf("admin_token = %q", cfg.Server.AdminToken)
	}
	// Values with YAML syntax in them stay strings: expansion happens after parsing.
	if got := cfg.Pages[0].Links[0].URL; got != env["SLUG_URL"] {
		t.Errorf("url = %q, want %q", got, env["SLUG_URL"])
	}
	if cfg.Server.PublicURL != "http://127.0.0.1:9000" || cfg.Storage.Path != "linkwatch.db" {
		t.Errorf("defaults: public_url %q, storage.path %q", cfg.Server.PublicURL, cfg.Storage.Path)
	}
	if *cfg.Server.DrainDelay != Duration(5*time.Second) || cfg.Probe.Region != "" || cfg.Server.RateLimit.IPv6Prefix != 64 {
		t.Errorf("defaults: drain_delay %s, region %q, rate_limit.ipv6_prefix %d", time.Duration(*cfg.Server.DrainDelay), cfg.Probe.Region,
			cfg.Server.RateLimit.IPv6Prefix)
	}
	cfg, err = Parse(t.Context(), []byte("server: {drain_delay: 0s, rate_limit: {ipv6_prefix: 48}}\nprobe: {region: eu-west-2}\n"+validPages), "t.yaml",
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Server.DrainDelay != 0 || cfg.Probe.Region != "eu-west-2" || cfg.Server.RateLimit.IPv6Prefix != 48 {
		t.Errorf("drain_delay %s, region %q, ipv6_prefix %d; want 0s, eu-west-2 and 48", time.Duration(*cfg.Server.DrainDelay), cfg.Probe.Region,
			cfg.Server.RateLimit.IPv6Prefix)
	}
}

// alerts.email's port follows its security unless set; the form is on
// everywhere but where a page (or status_form, for /status) turns it off.
func TestEmailConfigDefaults(t *testing.T) {
	cfg, err := Parse(t.Context(), []byte(`
alerts:
  email:
    host: smtp.example.com
    user: status
    password: ${SMTP_PASSWORD}
    from: status@example.com
pages:
  - {slug: a, links: [{slug: x, url: 'https://e.com/'}]}
  - {slug: b, subscribe: false, links: [{slug: y, url: 'https://e.com/y'}]}
`), "t.yaml", func(k string) string { return map[string]string{"SMTP_PASSWORD": "s3cret"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Alerts.Email
	if e.Security != "starttls" || e.Port != 587 || e.Password != "s3cret" || !*e.StatusForm {
		t.Errorf("defaults: %+v", *e)
	}
	if off := cfg.SubscribeOff(); !off["b"] || off["a"] || off[""] {
		t.Errorf("forms off: %v, want b alone", off)
	}
	cfg, err = Parse(t.Context(), []byte("alerts: {email: {host: localhost, security: none, from: s@x.example, status_form: false}}\n"+validPages), "t.yaml",
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Alerts.Email.Port != 25 || !cfg.SubscribeOff()[""] {
		t.Errorf("none on loopback: port %d, forms off %v", cfg.Alerts.Email.Port, cfg.SubscribeOff())
	}
	if cfg, err := Parse(t.Context(), []byte("alerts: {email: {host: smtp.example.com, security: tls, from: s@x.example}}\n"+validPages), "t.yaml",
		func(string) string { return "" }); err != nil || cfg.Alerts.Email.Port != 465 {
		t.Errorf("tls: %v, port %d", err, cfg.Alerts.Email.Port)
	}
}

func TestEmbeddedDefaultConfigIsValid(t *testing.T) {
	cfg, err := Load(t.Context(), "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != ":8080" || len(cfg.Pages) < 2 {
		t.Errorf("default config: addr %q, %d pages", cfg.Server.Addr, len(cfg.Pages))
	}
	if _, err := Parse(t.Context(), defaultConfig, "x", func(string) string { return "" }); err != nil {
		t.Error(err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validPages))
	f.Add(defaultConfig)
	f.Add([]byte("server: {addr: ':1', public_url: 'http://x'}\npages: [{slug: a, links: [{slug: b, url: 'https://c/'}]}]"))
	f.Add([]byte("pages: &a [*a]"))
	f.Add([]byte("pages:\n  - slug: ${X}\n"))
	f.Add([]byte("pages: [{slug: a, links: [{slug: b, url: 'https://c/', fallback: 'https://d/'}]}]"))
	f.Add([]byte("pages: [{slug: a, links: [{slug: b, url: 'https://c/', fallback: 'https://c/'}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(t.Context(), data, "fuzz.yaml", func(string) string { return "v" })
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Errs) == 0 {
				t.Fatalf("error without field errors: %v", err)
			}
			return
		}
		// An accepted config must build a servable catalog.
		if _, err := newCatalogForTest(cfg); err != nil {
			t.Fatalf("accepted config does not build a catalog: %v", err)
		}
	})
}

func newCatalogForTest(cfg *Config) (any, error) {
	return hub.NewCatalog(cfg.CatalogSpec(), hub.NewCounter(nil))
}

// TestReadmeConfigIsValid keeps the README's config reference true.
func TestReadmeConfigIsValid(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Configuration")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README's Configuration section has no yaml block")
	}
	env := map[string]string{
		"LINKWATCH_ADMIN_TOKEN": "0123456789abcdef0123", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X",
		"SENTRY_DSN": "https://key@o0.ingest.sentry.io/42", "OPS_WEBHOOK_SECRET": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SMTP_PASSWORD": "not-a-real-password",
	}
	if _, err := Parse(t.Context(), []byte(block), "README.md", func(k string) string { return env[k] }); err != nil {
		t.Errorf("the README's example config is invalid:\n%v", err)
	}
}

// TestStoragePostgres: driver postgres takes its DSN from the environment
// (the password is a secret), and keeps no SQLite path.
func TestStoragePostgres(t *testing.T) {
	env := map[string]string{"PGPASSWORD": "s3cret-pw"}
	cfg, err := Parse(t.Context(), []byte("storage: {driver: postgres, dsn: 'postgres://linkwatch:${PGPASSWORD}@db.internal:5432/linkwatch'}\n"+validPages),
		"test.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Driver != DriverPostgres || cfg.Storage.DSN != "postgres://linkwatch:s3cret-pw@db.internal:5432/linkwatch" || cfg.Storage.Path != "" {
		t.Errorf("storage = %+v", cfg.Storage)
	}
	cfg, err = Parse(t.Context(), []byte(validPages), "test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Driver != DriverSQLite || cfg.Storage.Path != "linkwatch.db" {
		t.Errorf("default storage = %+v, want sqlite in linkwatch.db", cfg.Storage)
	}
}

// TestRegionFromEnv: one config file for every replica; each names its
// region through the environment, and may tell destinations where it
// probes from in its User-Agent.
func TestRegionFromEnv(t *testing.T) {
	doc := []byte("probe:\n  region: ${LINKWATCH_REGION}\n  user_agent: \"linkwatch (${LINKWATCH_REGION})\"\n" + validPages)
	for _, region := range []string{"eu-west", "us-east-1"} {
		cfg, err := Parse(t.Context(), doc, "t.yaml", func(k string) string { return map[string]string{"LINKWATCH_REGION": region}[k] })
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Probe.Region != region || cfg.Probe.UserAgent != "linkwatch ("+region+")" {
			t.Errorf("region %q, user_agent %q", cfg.Probe.Region, cfg.Probe.UserAgent)
		}
	}
	cfg, err := Parse(t.Context(), []byte(validPages), "t.yaml", func(string) string { return "" })
	if err != nil || cfg.Probe.Region != "" {
		t.Errorf("no region: %q, %v", cfg.Probe.Region, err)
	}
}

// TestTestMinInterval: the tests' variable lowers the shortest
// probe.interval to no less than 100ms; a bad value is an error naming it;
// unset, the limit is 1s (TestParseConfigRejects).
func TestTestMinInterval(t *testing.T) {
	parse := func(interval, env string) error {
		t.Helper()
		doc := []byte("probe: {interval: " + interval + ", timeout: 50ms}\n" + validPages)
		_, err := Parse(t.Context(), doc, "t.yaml", func(k string) string { return map[string]string{"LINKWATCH_TEST_MIN_INTERVAL": env}[k] })
		return err
	}
	if err := parse("200ms", "100ms"); err != nil {
		t.Errorf("200ms with the tests' limit at 100ms: %v", err)
	}
	if err := parse("200ms", ""); err == nil || !strings.Contains(err.Error(), "probe.interval: must be at least 1s") {
		t.Errorf("200ms without the variable: %v", err)
	}
	if err := parse("200ms", "300ms"); err == nil || !strings.Contains(err.Error(), "probe.interval: must be at least 300ms") {
		t.Errorf("200ms with the limit at 300ms: %v", err)
	}
	for _, bad := range []string{"50ms", "2s", "fast", "-1s"} {
		err := parse("1s", bad)
		if err == nil || !strings.Contains(err.Error(), "LINKWATCH_TEST_MIN_INTERVAL: must be a duration from 100ms to 1s") {
			t.Errorf("LINKWATCH_TEST_MIN_INTERVAL=%s: %v", bad, err)
		}
	}
}
