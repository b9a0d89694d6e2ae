package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aliasBomb is a few KB of YAML whose aliases nest: pages of n aliased
// pages, each of n aliased links, each expecting n aliased status codes:
// n³ nodes for the field check to visit if it follows every alias.
func aliasBomb(n int) string {
	refs := func(name string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("*"+name+", ", n), ", ") + "]"
	}
	return fmt.Sprintf(`probe:
  allow_private: []
x-status: &s 200
x-link: &l {slug: a, url: "https://a.example/", expect: {status: %s}}
x-page: &p {slug: p, links: %s}
pages: %s
`, refs("s"), refs("l"), refs("p"))
}

func TestAliasBombIsRefused(t *testing.T) {
	data := aliasBomb(80) // 512,000 nodes through aliases
	if len(data) > 4096 {
		t.Fatalf("the bomb is %d bytes; it should be small", len(data))
	}
	_, err := ParseConfig([]byte(data), "bomb.yaml", func(string) string { return "" })
	var cerr *ConfigError
	if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "(file): aliases expand to more than") {
		t.Fatalf("err = %v, want the alias budget named", err)
	}
}

// A block shared through an anchor, as people write configs, stays fine.
func TestSharedAnchorIsAccepted(t *testing.T) {
	var b strings.Builder
	b.WriteString("pages:\n  - slug: ada\n    links:\n")
	for i := range 200 {
		anchor := "*e"
		if i == 0 {
			anchor = "&e {status: [200, 204], body_contains: ok}"
		}
		fmt.Fprintf(&b, "      - {slug: l%d, url: \"https://l%d.example/\", expect: %s}\n", i, i, anchor)
	}
	if _, err := ParseConfig([]byte(b.String()), "shared.yaml", func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
}

// Every command stops when its context ends (SIGTERM): validate and check
// do not go on reading a config.
func TestCommandsStopOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, []byte(aliasBomb(80)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, cmd := range []string{"validate", "check", "serve"} {
		var out, errOut strings.Builder
		err := run(ctx, []string{"linkwatch", cmd, "-config", path}, func(string) string { return "" }, &out, &errOut)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s after cancel: err = %v, want context.Canceled", cmd, err)
		}
	}
}
