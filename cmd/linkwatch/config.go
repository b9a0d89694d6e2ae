package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"linkwatch/alerting"
	"linkwatch/hub"
)

// Config is the whole linkwatch configuration file.
type Config struct {
	Server  ServerConfig  `yaml:"server"`
	Storage StorageConfig `yaml:"storage"`
	Probe   ProbeConfig   `yaml:"probe"`
	Pages   []PageConfig  `yaml:"pages"`
	Alerts  AlertsConfig  `yaml:"alerts"`
}

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

// ServerConfig is where and how the HTTP server listens.
type ServerConfig struct {
	Addr       string `yaml:"addr"`
	PublicURL  string `yaml:"public_url"`
	AdminToken string `yaml:"admin_token"`
	// RateLimit bounds requests per client IP on every public endpoint.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// TrustedProxies are reverse proxies (CIDRs) whose X-Forwarded-For
	// names the client; without them every visitor behind a proxy shares
	// the proxy's rate limit.
	TrustedProxies []string `yaml:"trusted_proxies"`
	trusted        []netip.Prefix
	// publicURLSet says public_url came from the file; otherwise serve
	// derives it from the address it actually listens on.
	publicURLSet bool
	// selfCheckURL is the base the prober reaches the hub's own links
	// through: public_url, unless that names another port of this machine
	// (see servedURLs). Set by serve.
	selfCheckURL string
}

// RateLimitConfig is a token bucket per client IP.
type RateLimitConfig struct {
	PerSecond float64 `yaml:"per_second"` // sustained requests a second (default 20)
	Burst     int     `yaml:"burst"`      // requests at once (default 60)
}

// StorageConfig is where the SQLite database lives and what it keeps.
type StorageConfig struct {
	Path      string          `yaml:"path"`
	Retention RetentionConfig `yaml:"retention"`
}

// RetentionConfig is how long each kind of data is kept.
type RetentionConfig struct {
	Raw           Duration `yaml:"raw"`            // raw results (default 48h)
	MinuteRollups Duration `yaml:"minute_rollups"` // per-minute aggregates (default 7 days)
	Rollups       Duration `yaml:"rollups"`        // per-hour aggregates (default 90 days)
}

// ProbeConfig is how destinations and the hub's own redirects are checked.
type ProbeConfig struct {
	Interval     Duration `yaml:"interval"`      // default 10s
	Timeout      Duration `yaml:"timeout"`       // per check, below the interval (default 8s)
	UserAgent    string   `yaml:"user_agent"`    // default: an honest browser-like UA naming linkwatch
	AllowPrivate []string `yaml:"allow_private"` // CIDRs the prober may reach despite the SSRF guard
	Workers      int      `yaml:"workers"`       // checks in flight at most (default 512)
	PerHost      int      `yaml:"per_host"`      // requests in flight per host at most (default 2)
	HubSlow      Duration `yaml:"hub_slow"`      // a self-check slower than this is hub_slow (default 1s)
	SelfCheck    *bool    `yaml:"self_check"`    // check the hub's own redirects (default true)
	HeadFirst    bool     `yaml:"head_first"`    // try HEAD before GET (falls back on 405/403/501)
	// FreshEvery is how often, at least, a destination is checked as a new
	// visitor reaches it: DNS, a new connection, a verified TLS handshake
	// (default 60s; 0: every check). Pointers, here and below, because 0 is
	// a value someone may write, not "unset".
	FreshEvery *Duration `yaml:"fresh_every"`
	// TLSWarn: a certificate expiring within it is tls_expiring (default 14 days).
	TLSWarn *Duration `yaml:"tls_warn"`
	// KeepAliveHosts bounds the hosts that keep connections between checks
	// (default 4096): each costs a descriptor and some 40-60 KiB; past it,
	// a host's every check is fresh.
	KeepAliveHosts int `yaml:"keep_alive_hosts"`
	// FailureThreshold consecutive failures open an incident (default 2:
	// detection within about 20 s at a 10 s interval).
	FailureThreshold int `yaml:"failure_threshold"`
	// SuccessThreshold consecutive successes resolve it (default 2).
	SuccessThreshold int `yaml:"success_threshold"`
	// Canary is a URL that should always answer; when it fails along with
	// most destinations, the prober's own network is down (prober_offline).
	Canary string `yaml:"canary"`

	allowPrefixes []netip.Prefix
}

// PageConfig is one link page.
type PageConfig struct {
	Slug        string       `yaml:"slug"`
	Title       string       `yaml:"title"`
	Description string       `yaml:"description"`
	Links       []LinkConfig `yaml:"links"`
}

// LinkConfig is one short link on a page.
type LinkConfig struct {
	Slug  string `yaml:"slug"`
	Title string `yaml:"title"`
	URL   string `yaml:"url"`
	// Fallback is where visitors go while URL is down (an open incident,
	// outside maintenance), unless it is down too. It is checked like any
	// destination.
	Fallback string        `yaml:"fallback"`
	Expect   *ExpectConfig `yaml:"expect"`
}

// ExpectConfig is what a healthy destination answers, beyond any 2xx.
type ExpectConfig struct {
	Status       []int  `yaml:"status"`        // accepted final status codes
	BodyContains string `yaml:"body_contains"` // text the body must contain (soft-404 detection)
	FinalHost    string `yaml:"final_host"`    // host the redirect chain must end on
}

// Duration is a time.Duration written as "10s" or "48h" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		// A TypeError, so the decoder goes on with the other fields and
		// every problem is reported in one pass.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (use e.g. 10s, 5m, 48h)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// FieldError is a config error at a field path such as pages[1].links[0].url.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// ConfigError holds every problem found in a config file, so a user fixes
// them all in one pass.
type ConfigError struct {
	Source string
	Errs   []*FieldError
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d config error(s):", e.Source, len(e.Errs))
	for _, fe := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

func (e *ConfigError) add(path, format string, args ...any) {
	e.Errs = append(e.Errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// maxConfigBytes bounds what we are willing to parse.
const maxConfigBytes = 4 << 20

// ParseConfig decodes, expands and validates a config file. source names it in
// errors. Every problem found is returned in one *ConfigError.
func ParseConfig(data []byte, source string, getenv func(string) string) (*Config, error) {
	return parseConfig(context.Background(), data, source, getenv)
}

// parseConfig is ParseConfig that gives up when ctx ends (SIGTERM while a
// command or a SIGHUP reload is reading a config).
func parseConfig(ctx context.Context, data []byte, source string, getenv func(string) string) (*Config, error) {
	cerr := &ConfigError{Source: source}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: not checked: %w", source, context.Cause(ctx))
	}
	if len(data) > maxConfigBytes {
		cerr.add("(file)", "is larger than %d bytes", maxConfigBytes)
		return nil, cerr
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		cerr.add("(file)", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, cerr
	}
	var cfg Config
	if root.Kind == 0 { // empty file
		cerr.add("pages", "at least one page is required")
		return nil, cerr
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	expandEnv(doc, "", getenv, cerr)
	w := &fieldWalker{ctx: ctx, cerr: cerr}
	w.check(doc, reflect.TypeOf(cfg), "", false)
	if w.stopped != nil {
		cerr.add("(file)", "%v", w.stopped)
		return nil, cerr
	}
	// Decoding ignores unknown keys (reported above) and goes on past a
	// value of the wrong type, so validation still runs and every problem
	// is reported in one pass. The walk has named each wrong value by its
	// path, never quoting it (it may be a secret); the decoder's messages
	// would only repeat them, value included.
	if err := doc.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			if len(w.bad) == 0 {
				cerr.add("(file)", "%s", yamlQuoted.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "a value"))
			}
			return nil, cerr
		}
		if len(w.bad) == 0 {
			for _, msg := range te.Errors {
				cerr.add("(file)", "%s", yamlQuoted.ReplaceAllString(msg, "a value"))
			}
		}
	}
	validated := len(cerr.Errs)
	cfg.applyDefaults()
	cfg.validate(cerr)
	// A field whose value had the wrong type was decoded as zero: what
	// validation says of it (or of what is under it) repeats the error.
	kept := cerr.Errs[:validated]
	for _, fe := range cerr.Errs[validated:] {
		if !w.under(fe.Path) {
			kept = append(kept, fe)
		}
	}
	cerr.Errs = kept
	if len(cerr.Errs) > 0 {
		return nil, cerr
	}
	return &cfg, nil
}

// LoadConfig reads and parses the config file at path.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	return loadConfigFile(context.Background(), path, getenv)
}

func loadConfigFile(ctx context.Context, path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(ctx, data, path, getenv)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} in scalar values (never keys) after parsing, so
// a secret containing YAML syntax cannot change the document's structure. An
// unset variable is an error: a silently empty token is worse.
func expandEnv(n *yaml.Node, path string, getenv func(string) string, cerr *ConfigError) {
	switch n.Kind {
	case yaml.ScalarNode:
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v := getenv(name)
			if v == "" {
				cerr.add(path, "environment variable %s is not set", name)
			}
			return v
		})
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(n.Content[i+1], joinPath(path, n.Content[i].Value), getenv, cerr)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(c, fmt.Sprintf("%s[%d]", path, i), getenv, cerr)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var durationType = reflect.TypeOf(Duration(0))

// kindWords names what a scalar field holds, for errors.
var kindWords = map[reflect.Kind]string{
	reflect.String: "a string", reflect.Bool: "true or false", reflect.Int: "an integer", reflect.Int64: "an integer", reflect.Float64: "a number",
}

// aliasBudget is how many nodes the field check visits through YAML
// aliases, in all. A shared block reused a few hundred times is far below
// it; nested lists of aliases (a "billion laughs" file of a few KB) would
// otherwise expand to billions of nodes, here, before yaml's own guard in
// Decode runs.
const aliasBudget = 10000

// fieldWalker walks the parsed document against the Config type once.
type fieldWalker struct {
	ctx        context.Context
	cerr       *ConfigError
	bad        []string // paths whose value has the wrong kind or type
	aliasNodes int      // nodes visited through an alias so far
	visits     int      // every node visited, to look at ctx now and then
	stopped    error    // why the walk gave up: alias budget spent, or ctx ended
}

// yamlQuoted is a value yaml quotes in a type error (`xoxb-12...`): never
// repeated, it may be a secret.
var yamlQuoted = regexp.MustCompile("`[^`]*`")

// under reports whether path is, or is inside, a field with a bad value.
func (w *fieldWalker) under(path string) bool {
	for _, b := range w.bad {
		if path == orRoot(b) || b == "" || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// wrong records a value of the wrong kind at path.
func (w *fieldWalker) wrong(path, format string, args ...any) int {
	w.cerr.add(orRoot(path), format, args...)
	w.bad = append(w.bad, path)
	return 1
}

// check reports every key that t has no yaml field for, with its path, so
// a typo like "tittle" is an error instead of a silent default. It returns
// how many shape errors (wrong kind of node, repeated key) it found.
// aliased says n was reached through an alias.
func (w *fieldWalker) check(n *yaml.Node, t reflect.Type, path string, aliased bool) (shapeErrs int) {
	if w.stopped != nil {
		return 0
	}
	if w.visits++; w.visits%1024 == 0 && w.ctx.Err() != nil {
		w.stopped = fmt.Errorf("not checked: %w", context.Cause(w.ctx))
		return 0
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n, aliased = n.Alias, true
	}
	if aliased {
		if w.aliasNodes++; w.aliasNodes > aliasBudget {
			w.stopped = fmt.Errorf("aliases expand to more than %d nodes: write the repeated parts out, or share fewer", aliasBudget)
			return 0
		}
	}
	cerr := w.cerr
	if t == durationType {
		// Checked here, not in UnmarshalYAML, so the error names the field.
		if _, err := time.ParseDuration(n.Value); err != nil || n.Kind != yaml.ScalarNode {
			return w.wrong(path, "%q is not a duration (use e.g. 10s, 5m, 48h)", n.Value)
		}
		return 0
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				return w.wrong(path, "must be a mapping")
			}
			return 0
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := joinPath(path, key)
			ft, ok := fields[key]
			if !ok {
				cerr.add(p, "unknown field%s", suggest(key, fields))
				continue
			}
			if seen[key] {
				shapeErrs += w.wrong(p, "appears twice")
				continue
			}
			seen[key] = true
			shapeErrs += w.check(n.Content[i+1], ft, p, aliased)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				return w.wrong(path, "must be a list")
			}
			return 0
		}
		for i, c := range n.Content {
			shapeErrs += w.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), aliased)
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		// Decoded alone with yaml's own rules; the message names the field
		// and the type wanted, never the value: it may be a secret.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return w.wrong(path, "must be %s", kindWords[t.Kind()])
		}
	}
	return shapeErrs
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

// suggest names the known field closest to a misspelt key.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	for f := range fields {
		if d := editDistance(key, f); d < bestDist || (d == bestDist && f < best) {
			best, bestDist = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func (c *Config) applyDefaults() {
	if c.Server.Addr == "" {
		c.Server.Addr = ":8080"
	}
	c.Server.publicURLSet = c.Server.PublicURL != ""
	if c.Server.PublicURL == "" {
		host, port, err := net.SplitHostPort(c.Server.Addr)
		if err == nil {
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "localhost"
			}
			c.Server.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	c.Server.PublicURL = strings.TrimRight(c.Server.PublicURL, "/")
	if c.Storage.Path == "" {
		c.Storage.Path = "linkwatch.db"
	}
	if c.Server.RateLimit.PerSecond == 0 {
		c.Server.RateLimit.PerSecond = 20
	}
	if c.Server.RateLimit.Burst == 0 {
		c.Server.RateLimit.Burst = 60
	}
	r := &c.Storage.Retention
	setDefault(&r.Raw, 48*time.Hour)
	setDefault(&r.MinuteRollups, 7*24*time.Hour)
	setDefault(&r.Rollups, 90*24*time.Hour)
	p := &c.Probe
	setDefault(&p.Interval, 10*time.Second)
	setDefault(&p.Timeout, 8*time.Second)
	setDefault(&p.HubSlow, time.Second)
	setDefaultPtr(&p.FreshEvery, time.Minute)
	setDefaultPtr(&p.TLSWarn, 14*24*time.Hour)
	if p.Workers == 0 {
		p.Workers = 512
	}
	if p.PerHost == 0 {
		p.PerHost = 2
	}
	if p.KeepAliveHosts == 0 {
		p.KeepAliveHosts = 4096
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 2
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 2
	}
	if p.SelfCheck == nil {
		on := true
		p.SelfCheck = &on
	}
	if c.Alerts.GroupInterval == nil {
		d := Duration(30 * time.Second)
		c.Alerts.GroupInterval = &d
	}
}

func setDefault(d *Duration, v time.Duration) {
	if *d == 0 {
		*d = Duration(v)
	}
}

func setDefaultPtr(d **Duration, v time.Duration) {
	if *d == nil {
		dv := Duration(v)
		*d = &dv
	}
}

// minAdminTokenLen keeps a guessable token from guarding the admin API.
const minAdminTokenLen = 16

func (c *Config) validate(cerr *ConfigError) {
	_, _, addrErr := net.SplitHostPort(c.Server.Addr)
	if addrErr != nil {
		cerr.add("server.addr", "must be host:port or :port (%v)", unwrapAddrErr(addrErr))
	}
	if c.Server.PublicURL == "" && addrErr != nil {
		// Derived from server.addr, whose error is already reported.
	} else if err := hub.ValidateURL(c.Server.PublicURL); err != nil {
		cerr.add("server.public_url", "%v", err)
	} else if u, _ := url.Parse(c.Server.PublicURL); u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		cerr.add("server.public_url", "must be a bare origin such as https://links.example.com (no path, query or fragment)")
	}
	if rl := c.Server.RateLimit; rl.PerSecond < 0 || rl.PerSecond > 1e6 {
		cerr.add("server.rate_limit.per_second", "must be between 0 and 1000000")
	}
	if rl := c.Server.RateLimit; rl.Burst < 0 || rl.Burst > 1e6 {
		cerr.add("server.rate_limit.burst", "must be between 0 and 1000000")
	}
	c.Server.trusted = nil
	for i, p := range c.Server.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			cerr.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not a CIDR such as 10.0.0.0/8", p)
			continue
		}
		c.Server.trusted = append(c.Server.trusted, pfx.Masked())
	}
	// A token that cannot travel in "Authorization: Bearer <token>" could
	// never authenticate: HTTP trims spaces around a header value and
	// allows no newline in it (a secret file's trailing newline, a token of
	// spaces). Checked before the length, which spaces would satisfy.
	switch t := c.Server.AdminToken; {
	case t == "":
	case strings.TrimSpace(t) != t || strings.ContainsFunc(t, unicode.IsControl):
		cerr.add("server.admin_token", "must not start or end with spaces, nor contain newlines or control characters (a trailing newline from a secret file?)")
	case len(t) < minAdminTokenLen:
		cerr.add("server.admin_token", "must be at least %d characters", minAdminTokenLen)
	}
	if strings.ContainsAny(c.Storage.Path, "?#") {
		cerr.add("storage.path", "must not contain ? or #")
	}
	c.validateStorageAndProbe(cerr)
	c.validateAlerts(cerr)
	if len(c.Pages) == 0 {
		cerr.add("pages", "at least one page is required")
	}
	destAt := map[string]string{} // url -> path of the first link with it
	pageAt := map[string]int{}
	for i, p := range c.Pages {
		pp := fmt.Sprintf("pages[%d]", i)
		if err := hub.ValidatePageSlug(p.Slug); err != nil {
			cerr.add(pp+".slug", "%v", err)
		} else if j, dup := pageAt[p.Slug]; dup {
			cerr.add(pp+".slug", "%q is already used by pages[%d]", p.Slug, j)
		} else {
			pageAt[p.Slug] = i
		}
		linkAt := map[string]int{}
		for j, l := range p.Links {
			lp := fmt.Sprintf("%s.links[%d]", pp, j)
			if err := hub.ValidateLinkSlug(l.Slug); err != nil {
				cerr.add(lp+".slug", "%v", err)
			} else if k, dup := linkAt[l.Slug]; dup {
				cerr.add(lp+".slug", "%q is already used by %s.links[%d]", l.Slug, pp, k)
			} else {
				linkAt[l.Slug] = j
			}
			if err := hub.ValidateURL(l.URL); err != nil {
				cerr.add(lp+".url", "%v", err)
			}
			if err := hub.ValidateFallback(l.Fallback, l.URL); err != nil {
				cerr.add(lp+".fallback", "%v", err)
			}
			validateExpect(l.Expect, lp+".expect", cerr)
			// A destination is checked once however many links share it, so
			// they must agree on what healthy means.
			if first, ok := destAt[l.URL]; ok {
				if !sameExpect(l.Expect, c.linkAt(first).Expect) {
					cerr.add(lp+".expect", "differs from %s, which has the same url (a destination is checked once)", first)
				}
			} else {
				destAt[l.URL] = lp
			}
		}
	}
}

// linkAt returns the link at a path built by validate ("pages[i].links[j]").
func (c *Config) linkAt(path string) LinkConfig {
	var i, j int
	_, _ = fmt.Sscanf(path, "pages[%d].links[%d]", &i, &j)
	return c.Pages[i].Links[j]
}

func sameExpect(a, b *ExpectConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Status, b.Status) && a.BodyContains == b.BodyContains && a.FinalHost == b.FinalHost
}

func validateExpect(e *ExpectConfig, path string, cerr *ConfigError) {
	if e == nil {
		return
	}
	for i, code := range e.Status {
		if code < 100 || code > 599 {
			cerr.add(fmt.Sprintf("%s.status[%d]", path, i), "%d is not an HTTP status code", code)
		}
	}
	if len(e.BodyContains) > 1024 {
		cerr.add(path+".body_contains", "must be at most 1024 bytes")
	}
	if h := e.FinalHost; h != "" {
		if u, err := url.Parse("http://" + h + "/"); err != nil || u.Host != h || u.Port() != "" || strings.ContainsAny(h, "/@ ") {
			cerr.add(path+".final_host", "must be a bare host name such as shop.example.com")
		}
	}
}

func (c *Config) validateStorageAndProbe(cerr *ConfigError) {
	r := c.Storage.Retention
	if r.Raw < Duration(time.Hour) {
		cerr.add("storage.retention.raw", "must be at least 1h")
	}
	if r.MinuteRollups < r.Raw {
		cerr.add("storage.retention.minute_rollups", "must be at least storage.retention.raw")
	}
	if r.Rollups < r.MinuteRollups {
		cerr.add("storage.retention.rollups", "must be at least storage.retention.minute_rollups")
	}
	p := &c.Probe
	if p.Interval < Duration(time.Second) {
		cerr.add("probe.interval", "must be at least 1s")
	}
	if p.Timeout <= 0 || p.Timeout >= p.Interval {
		cerr.add("probe.timeout", "must be positive and below probe.interval (%s), so checks never stack", time.Duration(p.Interval))
	}
	if p.HubSlow <= 0 {
		cerr.add("probe.hub_slow", "must be positive")
	}
	if f := *p.FreshEvery; f < 0 || f > Duration(time.Hour) {
		cerr.add("probe.fresh_every", "must be between 0 (every check fresh) and 1h")
	}
	if p.KeepAliveHosts < 1 || p.KeepAliveHosts > 1000000 {
		cerr.add("probe.keep_alive_hosts", "must be between 1 and 1000000")
	}
	if w := *p.TLSWarn; w < Duration(time.Hour) || w > Duration(365*24*time.Hour) {
		cerr.add("probe.tls_warn", "must be between 1h and 8760h (365 days)")
	}
	if p.Workers < 1 || p.Workers > 100000 {
		cerr.add("probe.workers", "must be between 1 and 100000")
	}
	if p.PerHost < 1 || p.PerHost > 1000 {
		cerr.add("probe.per_host", "must be between 1 and 1000")
	}
	if p.FailureThreshold < 1 || p.FailureThreshold > 100 {
		cerr.add("probe.failure_threshold", "must be between 1 and 100")
	}
	if p.SuccessThreshold < 1 || p.SuccessThreshold > 100 {
		cerr.add("probe.success_threshold", "must be between 1 and 100")
	}
	if p.Canary != "" {
		if err := hub.ValidateURL(p.Canary); err != nil {
			cerr.add("probe.canary", "%v", err)
		}
	}
	if strings.ContainsFunc(p.UserAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		cerr.add("probe.user_agent", "must not contain control characters")
	}
	p.allowPrefixes = nil
	for i, s := range p.AllowPrivate {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			cerr.add(fmt.Sprintf("probe.allow_private[%d]", i), "%q is not a CIDR such as 10.0.0.0/8 or 127.0.0.1/32", s)
			continue
		}
		p.allowPrefixes = append(p.allowPrefixes, pfx.Masked())
	}
}

func unwrapAddrErr(err error) error {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return errors.New(ae.Err)
	}
	return err
}

// catalogSpec turns the config's pages into what hub.NewCatalog takes.
func (c *Config) catalogSpec() []hub.PageSpec {
	out := make([]hub.PageSpec, 0, len(c.Pages))
	for _, p := range c.Pages {
		ps := hub.PageSpec{Slug: p.Slug, Title: p.Title, Description: p.Description}
		for _, l := range p.Links {
			ps.Links = append(ps.Links, hub.LinkSpec{Slug: l.Slug, Title: l.Title, URL: l.URL, Fallback: l.Fallback})
		}
		out = append(out, ps)
	}
	return out
}

var webhookNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// validateAlerts checks the alert channels. Messages never repeat a secret
// value: they say what is wrong with it.
func (c *Config) validateAlerts(cerr *ConfigError) {
	a := c.Alerts
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
		if d.Addr == "" {
			d.Addr = "127.0.0.1:8125"
		}
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
