package main

import (
	"slices"
	"strings"
	"time"

	"linkwatch"
	"linkwatch/checker"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
)

// destinationTargets returns one target per unique destination URL, fallbacks
// included, in the catalog's URL order. Links sharing a URL share its
// expectations (validated); a URL that is only a fallback expects any 2xx.
func destinationTargets(cfg *config.Config, catalog *hub.Catalog) []linkwatch.Target {
	expect := map[string]linkwatch.Expect{}
	for _, p := range cfg.Pages {
		for _, l := range p.Links {
			if l.Expect != nil {
				expect[l.URL] = linkwatch.Expect{Status: l.Expect.Status, BodyContains: l.Expect.BodyContains, FinalHost: l.Expect.FinalHost}
			}
		}
	}
	var out []linkwatch.Target
	for _, d := range catalog.Destinations() {
		out = append(out, linkwatch.Target{ID: d.URL, Kind: linkwatch.TargetDestination, URL: d.URL, Expect: expect[d.URL]})
	}
	return out
}

// allTargets is everything serve checks: the destinations, the hub's own
// redirects (reached through selfCheckURL) and the canary.
func allTargets(cfg *config.Config, catalog *hub.Catalog, selfCheckURL string) []linkwatch.Target {
	return slices.Concat(destinationTargets(cfg, catalog), selfCheckTargets(cfg, catalog, selfCheckURL), canaryTargets(cfg))
}

// selfCheckTargets returns one target per link: the hub's own short link,
// reached through base (the public URL, or the served address when the
// public URL names another port of this machine: see servedURLs), which
// must answer 302 to the destination.
func selfCheckTargets(cfg *config.Config, catalog *hub.Catalog, base string) []linkwatch.Target {
	if !*cfg.Probe.SelfCheck {
		return nil
	}
	base = strings.TrimRight(base, "/")
	var out []linkwatch.Target
	for _, p := range catalog.Pages() {
		for _, l := range p.Links {
			path := "/" + p.Slug + "/" + l.Slug
			// One history per page: the hub's redirects are one component, and
			// a minute rollup per link would cost more than the destinations'.
			out = append(out, linkwatch.Target{ID: linkwatch.SelfCheckID(p.Slug, l.Slug), Kind: linkwatch.TargetSelfCheck, URL: base + path, WantLocation: l.URL, AltLocation: l.Fallback,
				Series: linkwatch.SelfSeriesID(p.Slug)})
		}
	}
	return out
}

// canaryID is the canary's target id, or "" without one.
func canaryID(cfg *config.Config) string {
	if t := canaryTargets(cfg); len(t) > 0 {
		return t[0].ID
	}
	return ""
}

// canaryTargets returns the canary, if one is configured.
func canaryTargets(cfg *config.Config) []linkwatch.Target {
	if cfg.Probe.Canary == "" {
		return nil
	}
	return []linkwatch.Target{{ID: linkwatch.CanaryID(cfg.Probe.Canary), Kind: linkwatch.TargetCanary, URL: cfg.Probe.Canary}}
}

// dependencies maps every target to the links that depend on it, for the
// incidents' dependency view: a link depends on its destination, on its
// fallback (where its visitors go while the destination is down), and on
// the hub's redirect of it.
func dependencies(catalog *hub.Catalog) map[string][]linkwatch.Affected {
	deps := map[string][]linkwatch.Affected{}
	for _, p := range catalog.Pages() {
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

// newChecker is the prober of cfg; diverted says when a self-check may
// find a link on its fallback (nil: never, as in check, which runs no
// self-check).
func newChecker(cfg *config.Config, selfToken string, diverted func(linkwatch.Target, time.Time) bool) *checker.Checker {
	p := cfg.Probe
	return checker.New(checker.Options{
		Timeout:            time.Duration(p.Timeout),
		UserAgent:          p.UserAgent,
		AllowPrivate:       p.AllowPrefixes(),
		PerHostConcurrency: p.PerHost,
		SlowThreshold:      time.Duration(p.HubSlow),
		HEADFirst:          p.HeadFirst,
		SelfCheckToken:     selfToken,
		Diverted:           diverted,
		FreshEvery:         freshEvery(time.Duration(*p.FreshEvery)),
		TLSWarn:            time.Duration(*p.TLSWarn),
		KeepAliveHosts:     p.KeepAliveHosts,
	})
}

// freshEvery maps the config's 0 (every check fresh) to the checker's
// FreshAlways: to the checker, 0 means its default.
func freshEvery(d time.Duration) time.Duration {
	if d == 0 {
		return checker.FreshAlways
	}
	return d
}
