package linkwatch_test

import (
	"regexp"
	"strings"
	"testing"

	"linkwatch"
)

func TestComponentsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		id    string
		kind  linkwatch.ComponentKind
		value string
	}{
		{linkwatch.PageComponent("acme"), linkwatch.ComponentPage, "acme"},
		{linkwatch.HostComponent("shop.example"), linkwatch.ComponentHost, "shop.example"},
		{linkwatch.DestComponent("https://shop.example/a?b=c"), linkwatch.ComponentDest, "https://shop.example/a?b=c"},
		{linkwatch.HubComponent, linkwatch.ComponentHub, ""},
		{linkwatch.ProberComponent, linkwatch.ComponentProber, ""},
		{"", linkwatch.ComponentAll, ""},
	} {
		kind, value, ok := linkwatch.ParseComponent(tc.id)
		if !ok || kind != tc.kind || value != tc.value {
			t.Errorf("ParseComponent(%q) = %q, %q, %v", tc.id, kind, value, ok)
		}
	}
	for _, bad := range []string{"page:", "host:", "dest:", "pages:acme", "HUB", "self:/a/b", "canary:x", "x"} {
		if _, _, ok := linkwatch.ParseComponent(bad); ok {
			t.Errorf("ParseComponent(%q) accepted", bad)
		}
	}
}

func TestTargetsAndKeys(t *testing.T) {
	if got := linkwatch.SelfCheckID("ada", "go"); got != "self:/ada/go" || !linkwatch.IsSelfCheck(got) || !linkwatch.IsSelfCheck(linkwatch.SelfSeriesID("ada")) {
		t.Errorf("self-check id %q", got)
	}
	if linkwatch.IsSelfCheck(linkwatch.DestinationID("https://self.example/")) || linkwatch.IsSelfCheck(linkwatch.CanaryID("https://c.example/")) {
		t.Error("a destination or the canary taken for a self-check")
	}
	if got := linkwatch.HostKey("shop.example", "http_5xx"); got != "host:shop.example|http_5xx" {
		t.Errorf("host key %q", got)
	}
	if linkwatch.HostOf("https://Shop.example:8443/x") != "shop.example" { // host names are case-insensitive
		t.Errorf("HostOf = %q", linkwatch.HostOf("https://Shop.example:8443/x"))
	}
	if linkwatch.HostOf("://bad") != "" {
		t.Errorf("HostOf of an unparsable URL = %q, want empty", linkwatch.HostOf("://bad"))
	}
}

func FuzzParseComponent(f *testing.F) {
	for _, s := range []string{"", "hub", "prober", "page:acme", "host:a.b", "dest:https://x/", "page:", "dest"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, value, ok := linkwatch.ParseComponent(s)
		if !ok {
			return
		}
		var back string
		switch kind {
		case linkwatch.ComponentAll, linkwatch.ComponentHub, linkwatch.ComponentProber:
			back = string(kind)
			if kind == linkwatch.ComponentAll {
				back = ""
			}
		case linkwatch.ComponentPage:
			back = linkwatch.PageComponent(value)
		case linkwatch.ComponentHost:
			back = linkwatch.HostComponent(value)
		case linkwatch.ComponentDest:
			back = linkwatch.DestComponent(value)
		}
		if back != s {
			t.Errorf("%q parsed to %q %q, built back to %q", s, kind, value, back)
		}
	})
}

func TestReplicaKeys(t *testing.T) {
	if got := linkwatch.ReplicaKey(linkwatch.ProberKey, ""); got != linkwatch.ProberKey {
		t.Errorf("a single process's key = %q, want %q", got, linkwatch.ProberKey)
	}
	for _, base := range []string{linkwatch.ProberKey, linkwatch.CanaryKey} {
		k := linkwatch.ReplicaKey(base, "pod-a-1x2y")
		if r := linkwatch.ReplicaOf(k); r != "pod-a-1x2y" {
			t.Errorf("ReplicaOf(%q) = %q", k, r)
		}
	}
	for _, k := range []string{linkwatch.ProberKey, linkwatch.CanaryKey, linkwatch.HubKey, linkwatch.HostKey("a@b.example", "http_5xx"), linkwatch.DestKey("https://u@shop.example/")} {
		if r := linkwatch.ReplicaOf(k); r != "" {
			t.Errorf("ReplicaOf(%q) = %q, want none: not a replica's key", k, r)
		}
	}
	if !linkwatch.IsCanary(linkwatch.CanaryID("https://c.example/")) || linkwatch.IsCanary("https://c.example/") {
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
		for _, base := range []string{linkwatch.ProberKey, linkwatch.CanaryKey} {
			if got := linkwatch.ReplicaOf(linkwatch.ReplicaKey(base, r)); got != r {
				t.Errorf("ReplicaOf(ReplicaKey(%q, %q)) = %q", base, r, got)
			}
		}
		if got := linkwatch.ReplicaOf(linkwatch.HostKey(r, "http_5xx")); got != "" {
			t.Errorf("a host key names replica %q", got)
		}
	})
}

// regionGrammar is probe.region's documented grammar.
var regionGrammar = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

func TestValidRegion(t *testing.T) {
	for _, name := range []string{"eu-west", "us-east-1", "a", strings.Repeat("z", 32)} {
		if !linkwatch.ValidRegion(name) {
			t.Errorf("ValidRegion(%q) = false", name)
		}
	}
	for _, name := range []string{"", "EU-West", "eu west", "eu_west", "eu.west", strings.Repeat("z", 33), "ü", "eu-west\n"} {
		if linkwatch.ValidRegion(name) {
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
		if got, want := linkwatch.ValidRegion(s), regionGrammar.MatchString(s); got != want {
			t.Errorf("ValidRegion(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
