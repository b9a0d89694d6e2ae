package ids

import (
	"regexp"
	"strings"
	"testing"
)

func TestComponentsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		id    string
		kind  ComponentKind
		value string
	}{
		{Page("acme"), ComponentPage, "acme"},
		{Host("shop.example"), ComponentHost, "shop.example"},
		{Dest("https://shop.example/a?b=c"), ComponentDest, "https://shop.example/a?b=c"},
		{Hub, ComponentHub, ""},
		{Prober, ComponentProber, ""},
		{"", ComponentAll, ""},
	} {
		kind, value, ok := ParseComponent(tc.id)
		if !ok || kind != tc.kind || value != tc.value {
			t.Errorf("ParseComponent(%q) = %q, %q, %v", tc.id, kind, value, ok)
		}
	}
	for _, bad := range []string{"page:", "host:", "dest:", "pages:acme", "HUB", "self:/a/b", "canary:x", "x"} {
		if _, _, ok := ParseComponent(bad); ok {
			t.Errorf("ParseComponent(%q) accepted", bad)
		}
	}
}

func TestTargetsAndKeys(t *testing.T) {
	if got := SelfCheck("ada", "go"); got != "self:/ada/go" || !IsSelfCheck(got) || !IsSelfCheck(SelfSeries("ada")) {
		t.Errorf("self-check id %q", got)
	}
	if IsSelfCheck(Destination("https://self.example/")) || IsSelfCheck(Canary("https://c.example/")) {
		t.Error("a destination or the canary taken for a self-check")
	}
	if got := HostKey("shop.example", "http_5xx"); got != "host:shop.example|http_5xx" {
		t.Errorf("host key %q", got)
	}
	if HostOf("https://Shop.example:8443/x") != "shop.example" { // host names are case-insensitive
		t.Errorf("HostOf = %q", HostOf("https://Shop.example:8443/x"))
	}
	if HostOf("://bad") != "" {
		t.Errorf("HostOf of an unparsable URL = %q, want empty", HostOf("://bad"))
	}
}

func FuzzParseComponent(f *testing.F) {
	for _, s := range []string{"", "hub", "prober", "page:acme", "host:a.b", "dest:https://x/", "page:", "dest"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, value, ok := ParseComponent(s)
		if !ok {
			return
		}
		var back string
		switch kind {
		case ComponentAll, ComponentHub, ComponentProber:
			back = string(kind)
			if kind == ComponentAll {
				back = ""
			}
		case ComponentPage:
			back = Page(value)
		case ComponentHost:
			back = Host(value)
		case ComponentDest:
			back = Dest(value)
		}
		if back != s {
			t.Errorf("%q parsed to %q %q, built back to %q", s, kind, value, back)
		}
	})
}

func TestReplicaKeys(t *testing.T) {
	if got := ReplicaKey(ProberKey, ""); got != ProberKey {
		t.Errorf("a single process's key = %q, want %q", got, ProberKey)
	}
	for _, base := range []string{ProberKey, CanaryKey} {
		k := ReplicaKey(base, "pod-a-1x2y")
		if r := ReplicaOf(k); r != "pod-a-1x2y" {
			t.Errorf("ReplicaOf(%q) = %q", k, r)
		}
	}
	for _, k := range []string{ProberKey, CanaryKey, HubKey, HostKey("a@b.example", "http_5xx"), DestKey("https://u@shop.example/")} {
		if r := ReplicaOf(k); r != "" {
			t.Errorf("ReplicaOf(%q) = %q, want none: not a replica's key", k, r)
		}
	}
	if !IsCanary(Canary("https://c.example/")) || IsCanary("https://c.example/") {
		t.Error("IsCanary does not tell the canary's id")
	}
}

// FuzzReplicaKey: whatever a replica's name, its key names it back, and a
// key made without one names none.
func FuzzReplicaKey(f *testing.F) {
	for _, r := range []string{"", "pod-a-1x2y", "vm-7k3m", "a@b", "prober", "@"} {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, r string) {
		for _, base := range []string{ProberKey, CanaryKey} {
			if got := ReplicaOf(ReplicaKey(base, r)); got != r {
				t.Errorf("ReplicaOf(ReplicaKey(%q, %q)) = %q", base, r, got)
			}
		}
		if got := ReplicaOf(HostKey(r, "http_5xx")); got != "" {
			t.Errorf("a host key names replica %q", got)
		}
	})
}

// regionGrammar is probe.region's documented grammar.
var regionGrammar = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

func TestValidRegion(t *testing.T) {
	for _, name := range []string{"eu-west", "us-east-1", "a", strings.Repeat("z", 32)} {
		if !ValidRegion(name) {
			t.Errorf("ValidRegion(%q) = false", name)
		}
	}
	for _, name := range []string{"", "EU-West", "eu west", "eu_west", "eu.west", strings.Repeat("z", 33), "ü", "eu-west\n"} {
		if ValidRegion(name) {
			t.Errorf("ValidRegion(%q) = true", name)
		}
	}
}

// FuzzValidRegion: the hand-written check is the documented grammar.
func FuzzValidRegion(f *testing.F) {
	for _, s := range []string{"eu-west", "", "EU", "a b", strings.Repeat("a", 33), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidRegion(s), regionGrammar.MatchString(s); got != want {
			t.Errorf("ValidRegion(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
