package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestAliasBombIsRefused(t *testing.T) {
	data, err := os.ReadFile("testdata/aliasbomb.yaml") // 512,000 nodes through aliases
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 4096 {
		t.Fatalf("the bomb is %d bytes; it should be small", len(data))
	}
	_, err = Parse(t.Context(), data, "bomb.yaml", func(string) string { return "" })
	var cerr *Error
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
	if _, err := Parse(t.Context(), []byte(b.String()), "shared.yaml", func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
}

// A value of the wrong type in a secret field is named by its field, never
// quoted, not even its first characters.
func TestTypeErrorOnASecretNamesTheFieldOnly(t *testing.T) {
	_, err := Parse(t.Context(), []byte(`
server: {admin_token: !!int SECRETadmin-token-0123}
alerts:
  slack: {webhook_url: !!float SECRETslack}
  webhooks: [{name: ops, url: "https://hooks.example/", secret: !!bool SECRETwhsec}]
`+validPages), "t.yaml", func(string) string { return "" })
	if err == nil {
		t.Fatal("accepted")
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "SECR") {
		t.Errorf("a type error quotes a secret:\n%v", err)
	}
	for _, want := range []string{"server.admin_token: must be a string", "alerts.slack.webhook_url: must be a string", "alerts.webhooks[0].secret: must be a string"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

// One value of the wrong type does not hide the other problems.
func TestOneTypeErrorHidesNoOther(t *testing.T) {
	_, err := Parse(t.Context(), []byte(`
server: {addr: "localhost"}
probe: {workers: many, per_host: 5000, head_first: perhaps}
pages:
  - slug: Bad
    links:
      - {slug: go, url: "ftp://go.dev/", expect: {status: [ok]}}
      - {slug: x, url: "https://x.example/", expect: {status: [999]}}
`), "t.yaml", func(string) string { return "" })
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"probe.workers: must be an integer",
		"probe.head_first: must be true or false",
		"pages[0].links[0].expect.status[0]: must be an integer",
		"server.addr: must be host:port",
		"probe.per_host: must be between",
		"pages[0].slug: must be",
		"pages[0].links[0].url: scheme must be http or https",
		"pages[0].links[1].expect.status[0]: must be an HTTP status code (100 to 599)",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
	if len(cerr.Errs) != len(want) {
		t.Errorf("%d errors, want %d (each once):\n%v", len(cerr.Errs), len(want), err)
	}
}

// One element of the wrong type in a list hides nothing of the others:
// yaml drops it, which moved the elements after it to its index, where
// their errors were taken for its own and hidden (or named the wrong one).
func TestOneWrongListElementHidesNoOther(t *testing.T) {
	_, err := Parse(t.Context(), []byte(`
server: {trusted_proxies: [{a: 1}, "nope"]}
probe: {allow_private: [[1], "127.0.0.1/32", "nope"]}
pages:
  - slug: a
    links:
      - oops
      - {slug: Bad, url: "ftp://x/"}
      - {slug: c, url: "https://c/", expect: {status: [ok, 999]}}
      - {slug: D, url: "https://d/"}
  - just a string
  - slug: B
    links: [{slug: e, url: "ftp://e/"}]
alerts:
  webhooks:
    - 7
    - {name: B, url: "ftp://b/", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
`), "t.yaml", noEnv)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"server.trusted_proxies[0]: must be a string",
		`server.trusted_proxies[1]: "nope" is not a CIDR`,
		"probe.allow_private[0]: must be a string",
		`probe.allow_private[2]: "nope" is not a CIDR`,
		"pages[0].links[0]: must be a mapping",
		"pages[0].links[1].slug: must be 1-64 lowercase",
		"pages[0].links[1].url: scheme must be http or https",
		"pages[0].links[2].expect.status[0]: must be an integer",
		"pages[0].links[2].expect.status[1]: must be an HTTP status code (100 to 599)",
		"pages[0].links[3].slug: must be 1-64 lowercase",
		"pages[1]: must be a mapping",
		"pages[2].slug: must be 1-64 lowercase",
		"pages[2].links[0].url: scheme must be http or https",
		"alerts.webhooks[0]: must be a mapping",
		"alerts.webhooks[1].name: must be 1-32 lowercase",
		"alerts.webhooks[1].url: scheme must be http or https",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
	if len(cerr.Errs) != len(want) {
		t.Errorf("%d errors, want %d (each once, at its own index):\n%v", len(cerr.Errs), len(want), err)
	}
}

// A wrong value shared through an anchor is reported, and the valid use
// of the same anchor elsewhere is left as it is.
func TestWrongAnchoredValueKeepsItsValidUse(t *testing.T) {
	_, err := Parse(t.Context(), []byte(`
probe: {user_agent: &ua "linkwatch-test"}
pages:
  - slug: a
    title: *ua
    links: [*ua, {slug: go, url: "https://go.dev/"}]
`), "t.yaml", noEnv)
	if err == nil || !strings.Contains(err.Error(), "pages[0].links[0]: must be a mapping") || strings.Contains(err.Error(), "user_agent") ||
		strings.Contains(err.Error(), "title") {
		t.Errorf("err = %v, want the alias in links named, and nothing else", err)
	}
}

// An admin token that can never authenticate is refused.
func TestAdminTokenThatCannotAuthenticate(t *testing.T) {
	for name, token := range map[string]string{
		"trailing newline": "0123456789abcdef0123\n",
		"all spaces":       strings.Repeat(" ", 20),
		"inner tab":        "0123456789\tabcdef0123",
	} {
		getenv := func(string) string { return token }
		_, err := Parse(t.Context(), []byte("server: {admin_token: \"${TOKEN}\"}\n"+validPages), "t.yaml", getenv)
		if err == nil || !strings.Contains(err.Error(), "server.admin_token: must not start or end with spaces") {
			t.Errorf("%s: err = %v, want server.admin_token refused", name, err)
		}
	}
	if _, err := Parse(t.Context(), []byte("server: {admin_token: \"0123456789abcdef-_.~+/=\"}\n"+validPages), "t.yaml", func(string) string { return "" }); err != nil {
		t.Errorf("a good token refused: %v", err)
	}
}
