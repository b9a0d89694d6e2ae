package config

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

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
	cerr       *Error
	bad        []string  // paths whose value has the wrong kind or type
	badNodes   []badNode // those values, where the walk owns them (see wrong)
	aliasNodes int       // nodes visited through an alias so far
	visits     int       // every node visited, to look at ctx now and then
	stopped    error     // why the walk gave up: alias budget spent, or ctx ended
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

// badNode is a value of the wrong kind, and the type its field wants.
type badNode struct {
	n *yaml.Node
	t reflect.Type
}

// wrong records n, a value of the wrong kind at path for a field of type
// t. A node of its own (not one inside an anchor's tree, which other paths
// share) is kept, to be cleared before decoding (clearBad).
func (w *fieldWalker) wrong(n *yaml.Node, t reflect.Type, shared bool, path, format string, args ...any) int {
	w.cerr.add(orRoot(path), format, args...)
	w.bad = append(w.bad, path)
	if !shared {
		w.badNodes = append(w.badNodes, badNode{n, t})
	}
	return 1
}

// clearBad replaces each wrong value by its field's zero (an empty
// mapping, list or string, 0, false, 0s), so decoding keeps it in its list:
// yaml drops an element it cannot decode, which moved the elements after
// it to the wrong index, where what was wrong with them was taken for the
// dropped one's and hidden.
func (w *fieldWalker) clearBad() {
	for _, b := range w.badNodes {
		z := yaml.Node{Kind: yaml.ScalarNode, Line: b.n.Line, Column: b.n.Column}
		switch {
		case b.t == durationType:
			z.Tag, z.Value = "!!str", "0s"
		case b.t.Kind() == reflect.Struct:
			z.Kind, z.Tag = yaml.MappingNode, "!!map"
		case b.t.Kind() == reflect.Slice:
			z.Kind, z.Tag = yaml.SequenceNode, "!!seq"
		case b.t.Kind() == reflect.Bool:
			z.Tag, z.Value = "!!bool", "false"
		case b.t.Kind() == reflect.Int, b.t.Kind() == reflect.Int64:
			z.Tag, z.Value = "!!int", "0"
		case b.t.Kind() == reflect.Float64:
			z.Tag, z.Value = "!!float", "0"
		default:
			z.Tag = "!!str"
		}
		*b.n = z
	}
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
	// The node at this place in the document: an alias is its own node;
	// an anchor, and what is inside it, may be used elsewhere too.
	at, shared := n, aliased || n.Anchor != ""
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
			return w.wrong(at, t, shared, path, "%q is not a duration (use e.g. 10s, 5m, 48h)", n.Value)
		}
		return 0
	}
	if t.Implements(oneOrManyType) && n.Kind == yaml.MappingNode {
		t = t.Elem() // the single-element form of a list
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				return w.wrong(at, t, shared, path, "must be a mapping")
			}
			return 0
		}
		fields := yamlFields(t)
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
				shapeErrs += w.wrong(n.Content[i+1], ft, true, p, "appears twice") // kept: yaml refuses the key anyway
				continue
			}
			seen[key] = true
			shapeErrs += w.check(n.Content[i+1], ft, p, aliased)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				return w.wrong(at, t, shared, path, "must be a list")
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
			return w.wrong(at, t, shared, path, "must be %s", kindWords[t.Kind()])
		}
	}
	return shapeErrs
}

// oneOrManyType is a list that may also be written as its one element.
var oneOrManyType = reflect.TypeOf((*interface{ oneOrMany() })(nil)).Elem()

// yamlFields returns the yaml keys of a struct type and their types,
// those of ",inline" structs included.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if len(tag) > 1 && tag[1] == "inline" && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name := tag[0]; name != "" && name != "-" && f.IsExported() {
			fields[name] = f.Type
		}
	}
	return fields
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
