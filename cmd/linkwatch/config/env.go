package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// fromEnv is a scalar in which ${NAME} was expanded: what the file says,
// and what the environment gave for each name.
type fromEnv struct {
	text   string            // as written in the file
	values map[string]string // by name
	value  string            // after expansion
}

// expandEnv replaces ${NAME} in scalar values (never keys) after parsing, so
// a secret containing YAML syntax cannot change the document's structure. An
// unset variable is an error: a silently empty token is worse. Each
// expanded scalar is recorded in env by its path, so its errors can name
// where the value came from without quoting it (hideEnv).
func expandEnv(n *yaml.Node, path string, getenv func(string) string, cerr *Error, env map[string]fromEnv) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !envRef.MatchString(n.Value) {
			return
		}
		fe := fromEnv{text: n.Value, values: map[string]string{}}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v := getenv(name)
			if v == "" {
				cerr.add(path, "environment variable %s is not set", name)
			}
			fe.values[name] = v
			return v
		})
		fe.value = n.Value
		env[orRoot(path)] = fe
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(n.Content[i+1], joinPath(path, n.Content[i].Value), getenv, cerr, env)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(c, fmt.Sprintf("%s[%d]", path, i), getenv, cerr, env)
		}
	}
}

// quotedText is a quoted string in an error: Go's %q, or yaml's backquotes.
var quotedText = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`")

// hideEnv rewrites the errors of fields whose value came from the
// environment: such a value may be a secret, so no part of it is quoted.
// A quoted value is replaced by the file's own text (${NAME} for what the
// environment gave), any other mention of what a variable gave by
// ${NAME}, and the error says where the value came from.
func hideEnv(errs []*FieldError, env map[string]fromEnv) {
	for _, fe := range errs {
		v, ok := env[fe.Path]
		if !ok {
			continue
		}
		names := make([]string, 0, len(v.values))
		for name := range v.values {
			names = append(names, name)
		}
		slices.Sort(names)
		// Longest values first, so a value containing another is replaced whole.
		slices.SortStableFunc(names, func(a, b string) int { return len(v.values[b]) - len(v.values[a]) })
		hide := func(s string) string {
			for _, name := range names {
				if val := v.values[name]; val != "" {
					s = strings.ReplaceAll(s, val, "${"+name+"}")
				}
			}
			return s
		}
		msg := quotedText.ReplaceAllStringFunc(fe.Msg, func(q string) string {
			s, err := strconv.Unquote(q)
			if err != nil || s == "" {
				return q
			}
			if hidden := hide(s); hidden != s {
				return strconv.Quote(hidden)
			}
			if strings.Contains(v.value, s) && !strings.Contains(v.text, s) {
				return strconv.Quote(v.text) // a part of the value, cut across what the environment gave
			}
			return q
		})
		// Unquoted, a value too short to be a secret is left alone:
		// replacing "1" would garble the message's own numbers.
		for _, name := range names {
			if val := v.values[name]; len(val) >= 3 {
				msg = strings.ReplaceAll(msg, val, "${"+name+"}")
			}
		}
		refs := make([]string, len(names))
		for i, name := range names {
			refs[i] = "${" + name + "}"
		}
		slices.Sort(refs)
		fe.Msg = msg + " (the value comes from " + strings.Join(refs, ", ") + ")"
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
