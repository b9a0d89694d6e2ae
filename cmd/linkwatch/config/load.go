package config

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// defaultConfig is the demo config serve runs on without -config.
//
//go:embed default.yaml
var defaultConfig []byte

// maxConfigBytes bounds what we are willing to parse.
const maxConfigBytes = 4 << 20

// Load reads the config file at path, or the embedded demo config when path
// is empty. It gives up when ctx ends: every command stops on SIGTERM,
// however hostile the file.
func Load(ctx context.Context, path string, getenv func(string) string) (*Config, error) {
	if path == "" {
		return Parse(ctx, defaultConfig, "(embedded default config)", getenv)
	}
	return LoadFile(ctx, path, getenv)
}

// LoadFile reads and parses the config file at path. It reads at most
// maxConfigBytes, and gives up when ctx ends, even on a FIFO without a
// writer (see readFile).
func LoadFile(ctx context.Context, path string, getenv func(string) string) (*Config, error) {
	data, err := readFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return Parse(ctx, data, path, getenv)
}

// Parse decodes a config file, expands ${NAME} from getenv, applies the
// defaults and validates the result. source names the file in errors. Every
// problem found is returned in one *Error; none is returned with a config.
// Parse gives up when ctx ends (SIGTERM while a command or a SIGHUP reload
// is reading a config).
func Parse(ctx context.Context, data []byte, source string, getenv func(string) string) (*Config, error) {
	cerr := &Error{Source: source}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: not checked: %w", source, context.Cause(ctx))
	}
	if len(data) > maxConfigBytes {
		return nil, tooLarge(source)
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
	env := map[string]fromEnv{}
	expandEnv(doc, "", getenv, cerr, env)
	// What is found from here on may be about a value the environment
	// gave: it is named, never quoted.
	expanded := len(cerr.Errs)
	defer func() { hideEnv(cerr.Errs[expanded:], env) }()
	w := &fieldWalker{ctx: ctx, cerr: cerr}
	w.check(doc, reflect.TypeOf(cfg), "", false)
	if w.stopped != nil {
		cerr.add("(file)", "%v", w.stopped)
		return nil, cerr
	}
	w.clearBad()
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
	minInterval := intervalLimit(getenv, cerr)
	validated := len(cerr.Errs)
	cfg.applyDefaults()
	cfg.validate(cerr, minInterval) // reads cfg, changes nothing
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
