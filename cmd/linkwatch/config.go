package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"linkwatch/hub"
)

// Config is the whole linkwatch configuration file.
type Config struct {
	Server  ServerConfig  `yaml:"server"`
	Storage StorageConfig `yaml:"storage"`
	Pages   []PageConfig  `yaml:"pages"`
}

// ServerConfig is where and how the HTTP server listens.
type ServerConfig struct {
	Addr       string `yaml:"addr"`
	PublicURL  string `yaml:"public_url"`
	AdminToken string `yaml:"admin_token"`
}

// StorageConfig is where the SQLite database lives.
type StorageConfig struct {
	Path string `yaml:"path"`
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
}

// Duration is a time.Duration written as "10s" or "48h" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use e.g. 10s, 5m, 48h)", n.Line, n.Value)
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
	cerr := &ConfigError{Source: source}
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
	shapeErrs := checkKnownFields(doc, reflect.TypeOf(cfg), "", cerr)
	// Decoding ignores unknown keys (reported above), so validation still
	// runs and every problem is reported in one pass. A wrong shape (a list
	// where a mapping belongs) is already reported with its path; the
	// decoder's message for it would only repeat it.
	if err := doc.Decode(&cfg); err != nil {
		if shapeErrs > 0 {
			return nil, cerr
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				cerr.add("(file)", "%s", msg)
			}
		} else {
			cerr.add("(file)", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, cerr
	}
	cfg.applyDefaults()
	cfg.validate(cerr)
	if len(cerr.Errs) > 0 {
		return nil, cerr
	}
	return &cfg, nil
}

// LoadConfig reads and parses the config file at path.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data, path, getenv)
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

// checkKnownFields reports every key that t has no yaml field for, with its
// path, so a typo like "tittle" is an error instead of a silent default. It
// returns how many shape errors (wrong kind of node, repeated key) it found.
func checkKnownFields(n *yaml.Node, t reflect.Type, path string, cerr *ConfigError) (shapeErrs int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == durationType {
			return 0
		}
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				cerr.add(orRoot(path), "must be a mapping")
				return 1
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
				cerr.add(p, "appears twice")
				shapeErrs++
				continue
			}
			seen[key] = true
			shapeErrs += checkKnownFields(n.Content[i+1], ft, p, cerr)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				cerr.add(orRoot(path), "must be a list")
				return 1
			}
			return 0
		}
		for i, c := range n.Content {
			shapeErrs += checkKnownFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), cerr)
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
	if t := c.Server.AdminToken; t != "" && len(t) < minAdminTokenLen {
		cerr.add("server.admin_token", "must be at least %d characters", minAdminTokenLen)
	}
	if strings.ContainsAny(c.Storage.Path, "?#") {
		cerr.add("storage.path", "must not contain ? or #")
	}
	if len(c.Pages) == 0 {
		cerr.add("pages", "at least one page is required")
	}
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
		}
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
			ps.Links = append(ps.Links, hub.LinkSpec{Slug: l.Slug, Title: l.Title, URL: l.URL})
		}
		out = append(out, ps)
	}
	return out
}
