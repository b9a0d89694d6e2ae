package hub

import (
	"slices"
	"strings"

	"linkwatch"
)

// Targets is everything the prober checks of c: the destinations, the
// hub's own redirects reached through selfCheckBase (none when it is
// empty: self-checks off), and the canary URL (none when it is empty).
func (c *Catalog) Targets(selfCheckBase, canary string) []linkwatch.Target {
	var self, canaries []linkwatch.Target
	if selfCheckBase != "" {
		self = c.SelfCheckTargets(selfCheckBase)
	}
	if canary != "" {
		canaries = []linkwatch.Target{{ID: linkwatch.CanaryID(canary), Kind: linkwatch.TargetCanary, URL: canary}}
	}
	return slices.Concat(c.DestinationTargets(), self, canaries)
}

// DestinationTargets returns one target per unique destination URL,
// fallbacks included, in URL order. Links sharing a URL share its
// expectations; a URL that is only a fallback expects any 2xx.
func (c *Catalog) DestinationTargets() []linkwatch.Target {
	expect := map[string]linkwatch.Expect{}
	for _, p := range c.pages {
		for _, l := range p.Links {
			if expects(l.Expect) {
				expect[l.URL] = l.Expect
			}
		}
	}
	var out []linkwatch.Target
	for _, d := range c.Destinations() {
		out = append(out, linkwatch.Target{ID: d.URL, Kind: linkwatch.TargetDestination, URL: d.URL, Expect: expect[d.URL]})
	}
	return out
}

// expects reports whether e asks more than any 2xx.
func expects(e linkwatch.Expect) bool {
	return len(e.Status) > 0 || e.BodyContains != "" || e.FinalHost != ""
}

// SelfCheckTargets returns one target per link: the hub's own short link,
// reached through base (the public URL, or the served address when the
// public URL names another port of this machine), which must answer 302
// to the destination, or to its fallback while the link is diverted.
func (c *Catalog) SelfCheckTargets(base string) []linkwatch.Target {
	base = strings.TrimRight(base, "/")
	var out []linkwatch.Target
	for _, p := range c.pages {
		for _, l := range p.Links {
			path := "/" + p.Slug + "/" + l.Slug
			// One history per page: the hub's redirects are one component, and
			// a minute rollup per link would cost more than the destinations'.
			out = append(out, linkwatch.Target{ID: linkwatch.SelfCheckID(p.Slug, l.Slug), Kind: linkwatch.TargetSelfCheck, URL: base + path,
				WantLocation: l.URL, AltLocation: l.Fallback, Series: linkwatch.SelfSeriesID(p.Slug)})
		}
	}
	return out
}

// Dependencies maps every target to the links that depend on it, for the
// incidents' dependency view: a link depends on its destination, on its
// fallback (where its visitors go while the destination is down), and on
// the hub's redirect of it.
func (c *Catalog) Dependencies() map[string][]linkwatch.Affected {
	deps := map[string][]linkwatch.Affected{}
	for _, p := range c.pages {
		for _, l := range p.Links {
			a := linkwatch.Affected{Page: p.Slug, Link: l.Slug, URL: l.URL, Fallback: l.Fallback}
			deps[l.URL] = append(deps[l.URL], a)
			if l.Fallback != "" {
				deps[l.Fallback] = append(deps[l.Fallback], a)
			}
			deps[linkwatch.SelfCheckID(p.Slug, l.Slug)] = []linkwatch.Affected{a}
		}
	}
	return deps
}
