package incidents

import (
	"fmt"
	"slices"
	"strings"

	"linkwatch/checker/ids"
)

// Filter chooses the alerts one receiver gets: a YAML webhook, a Slack
// entry or a subscription made through the admin API. The zero Filter
// lets everything through. Lists are ORed within themselves; pages, links
// and hosts together are the receiver's scope, and events and min_impact
// narrow further.
//
// It is the one home of alert filtering: the dispatcher applies it before
// every send, and replay applies it to choose what to send again.
type Filter struct {
	// Pages are page slugs: alerts about links on them.
	Pages []string `json:"pages,omitempty" yaml:"pages"`
	// Links are "page/link": alerts about those links only.
	Links []string `json:"links,omitempty" yaml:"links"`
	// Hosts are destination host names: alerts about links pointing there,
	// and host incidents about them.
	Hosts []string `json:"hosts,omitempty" yaml:"hosts"`
	// Events are alert types (incident.opened, incident.updated,
	// incident.resolved); empty is all of them.
	Events []AlertType `json:"events,omitempty" yaml:"events"`
	// MinImpact drops alerts of incidents below it; empty is none.
	MinImpact Impact `json:"min_impact,omitempty" yaml:"min_impact"`
}

// AlertTypes are the incident alert types, in the order they happen.
var AlertTypes = []AlertType{AlertOpened, AlertUpdated, AlertResolved}

// Rank orders impacts: none < minor < major < critical; -1 for an unknown one.
func (i Impact) Rank() int {
	switch i {
	case ImpactNone:
		return 0
	case ImpactMinor:
		return 1
	case ImpactMajor:
		return 2
	case ImpactCritical:
		return 3
	}
	return -1
}

// FilterError names the field of a filter that is wrong.
type FilterError struct {
	Field, Msg string
}

func (e *FilterError) Error() string { return e.Field + ": " + e.Msg }

// Limits of a filter, so one stored subscription stays small.
const (
	maxFilterEntries = 100
	maxFilterName    = 253
)

// Validate checks a filter and returns the first problem as a
// *FilterError naming its field ("pages[2]", "min_impact").
func (f Filter) Validate() error {
	lists := []struct {
		name  string
		items []string
		check func(string) string
	}{
		{"pages", f.Pages, checkSlug},
		{"links", f.Links, checkLinkRef},
		{"hosts", f.Hosts, checkHost},
	}
	for _, l := range lists {
		if len(l.items) > maxFilterEntries {
			return &FilterError{l.name, fmt.Sprintf("at most %d entries", maxFilterEntries)}
		}
		for i, s := range l.items {
			if msg := l.check(s); msg != "" {
				return &FilterError{fmt.Sprintf("%s[%d]", l.name, i), msg}
			}
		}
	}
	if len(f.Events) > len(AlertTypes) {
		return &FilterError{"events", fmt.Sprintf("at most %d entries", len(AlertTypes))}
	}
	for i, e := range f.Events {
		if !slices.Contains(AlertTypes, e) {
			return &FilterError{fmt.Sprintf("events[%d]", i), "must be incident.opened, incident.updated or incident.resolved"}
		}
	}
	if f.MinImpact != "" && f.MinImpact.Rank() < 0 {
		return &FilterError{"min_impact", "must be none, minor, major or critical"}
	}
	return nil
}

func checkSlug(s string) string {
	if s == "" || len(s) > maxFilterName || strings.ContainsAny(s, "/ \t\r\n") || !printable(s) {
		return "must be a page slug (no slash, no spaces)"
	}
	return ""
}

func checkLinkRef(s string) string {
	page, link, ok := strings.Cut(s, "/")
	if !ok || checkSlug(page) != "" || checkSlug(link) != "" {
		return `must be "page/link"`
	}
	return ""
}

func checkHost(s string) string {
	if s == "" || len(s) > maxFilterName || strings.ContainsAny(s, "/:@ \t\r\n") || !printable(s) || s != strings.ToLower(s) {
		return "must be a lowercase host name such as shop.example.com (no scheme, port or path)"
	}
	return ""
}

func printable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd })
}

// Empty reports whether the filter lets every alert through.
func (f Filter) Empty() bool {
	return len(f.Pages) == 0 && len(f.Links) == 0 && len(f.Hosts) == 0 && len(f.Events) == 0 && f.MinImpact == ""
}

// Follow is the filter for the later alerts of an incident whose earlier
// alert the receiver got: min_impact chooses incidents, not alerts, so an
// incident that opened major and eased to minor still reaches a
// min_impact: major receiver with its updates and its resolution. Scope
// and events still apply.
func (f Filter) Follow() Filter {
	f.MinImpact = ""
	return f
}

// scoped reports whether the filter names pages, links or hosts.
func (f Filter) scoped() bool { return len(f.Pages)+len(f.Links)+len(f.Hosts) > 0 }

// selects reports whether a link is in the filter's scope.
func (f Filter) selects(a Affected) bool {
	return slices.Contains(f.Pages, a.Page) || slices.Contains(f.Links, a.Page+"/"+a.Link) ||
		slices.Contains(f.Hosts, ids.HostOf(a.URL)) || (a.Fallback != "" && slices.Contains(f.Hosts, ids.HostOf(a.Fallback)))
}

// Apply returns the alert as this receiver is to get it, and whether it
// gets it at all. A scoped filter narrows the payload to its scope: a host
// incident touching several pages reaches a page's receiver with that
// page's links only (affected, added, targets and the evidence), so one
// brand never reads about another's links. An update that only added links
// out of scope is not sent.
func (f Filter) Apply(a Alert) (Alert, bool) {
	if len(f.Events) > 0 && !slices.Contains(f.Events, a.Type) {
		return a, false
	}
	if f.MinImpact != "" && a.Incident.Impact.Rank() < f.MinImpact.Rank() {
		return a, false
	}
	if !f.scoped() {
		return a, true
	}
	inc := a.Incident
	affected := keep(inc.Affected, f.selects)
	added := keep(a.Added, f.selects)
	hostMatch := inc.Host != "" && slices.Contains(f.Hosts, inc.Host)
	if len(affected) == 0 && len(added) == 0 && !hostMatch {
		return a, false
	}
	if len(a.Added) > 0 && len(added) == 0 {
		return a, false // only links out of scope joined
	}
	if hostMatch && len(f.Pages) == 0 && len(f.Links) == 0 {
		return a, true // the whole host is in scope
	}
	targets := map[string]bool{}
	for _, l := range append(slices.Clone(affected), added...) {
		targets[l.URL] = true
		if l.Fallback != "" {
			targets[l.Fallback] = true
		}
	}
	inc.Affected = affected
	inc.Targets = keep(inc.Targets, func(t string) bool { return targets[t] })
	a.Incident, a.Added = inc, added
	if a.LastResult != nil && !targets[a.LastResult.TargetID] {
		a.LastResult = nil // another page's evidence
	}
	return a, true
}

// keep returns the elements of s for which ok is true, as a new slice
// (non-nil, so a narrowed list stays [] in JSON).
func keep[T any](s []T, ok func(T) bool) []T {
	out := []T{}
	for _, v := range s {
		if ok(v) {
			out = append(out, v)
		}
	}
	return out
}
