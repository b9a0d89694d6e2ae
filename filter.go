package linkwatch

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/idna"
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
	// incident.resolved, storage.unreachable, storage.reachable); empty is
	// all of them.
	Events []AlertType `json:"events,omitempty" yaml:"events"`
	// MinImpact drops alerts of incidents below it; empty is none.
	MinImpact Impact `json:"min_impact,omitempty" yaml:"min_impact"`
}

// AlertTypes are the incident alert types, in the order they happen.
var AlertTypes = []AlertType{AlertOpened, AlertUpdated, AlertResolved}

// StorageAlertTypes are the alert types about linkwatch's database.
var StorageAlertTypes = []AlertType{AlertStorageUnreachable, AlertStorageReachable}

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

// Catalog says which pages and links are configured. A filter naming a
// page or link that is not would send its receiver nothing, silently.
type Catalog interface {
	HasPage(slug string) bool
	HasLink(page, link string) bool
}

// PageLinks is a Catalog: page slugs and the slugs of their links.
type PageLinks map[string][]string

// HasPage reports whether the page is configured.
func (p PageLinks) HasPage(slug string) bool { _, ok := p[slug]; return ok }

// HasLink reports whether the page has the link.
func (p PageLinks) HasLink(page, link string) bool { return slices.Contains(p[page], link) }

// Limits of a filter, so one stored subscription stays small.
const (
	maxFilterEntries = 100
	maxFilterName    = 253
)

// Check returns every problem of a filter, each naming its field
// ("pages[2]", "hosts[0]", "min_impact"), in field order: its form and,
// with a catalog (nil: the form only), that the pages and links it names
// are configured. It is the one validator of filters: the config file's
// alert entries and the admin API's subscriptions are checked by it alike.
func (f Filter) Check(c Catalog) []*FilterError {
	var errs []*FilterError
	add := func(field, msg string) { errs = append(errs, &FilterError{field, msg}) }
	lists := []struct {
		name  string
		items []string
		check func(string) string
		known func(string) string
	}{
		{"pages", f.Pages, checkSlug, func(p string) string {
			if !c.HasPage(p) {
				return fmt.Sprintf("no page %q is configured", p)
			}
			return ""
		}},
		{"links", f.Links, checkLinkRef, func(l string) string {
			page, link, _ := strings.Cut(l, "/")
			switch {
			case !c.HasPage(page):
				return fmt.Sprintf("no page %q is configured", page)
			case !c.HasLink(page, link):
				return fmt.Sprintf("no link %q is configured", l)
			}
			return ""
		}},
		{"hosts", f.Hosts, checkHost, nil},
	}
	for _, l := range lists {
		if len(l.items) > maxFilterEntries {
			add(l.name, fmt.Sprintf("at most %d entries", maxFilterEntries))
			continue
		}
		for i, s := range l.items {
			msg := l.check(s)
			if msg == "" && c != nil && l.known != nil {
				msg = l.known(s)
			}
			if msg != "" {
				add(fmt.Sprintf("%s[%d]", l.name, i), msg)
			}
		}
	}
	if all := len(AlertTypes) + len(StorageAlertTypes); len(f.Events) > all {
		add("events", fmt.Sprintf("at most %d entries", all))
	} else {
		for i, e := range f.Events {
			switch {
			case slices.Contains(StorageAlertTypes, e) && f.scoped():
				add(fmt.Sprintf("events[%d]", i), fmt.Sprintf("%s is about linkwatch's database, not a link: a receiver with pages, links or hosts never gets it", e))
			case !slices.Contains(AlertTypes, e) && !slices.Contains(StorageAlertTypes, e):
				add(fmt.Sprintf("events[%d]", i), "must be incident.opened, incident.updated, incident.resolved, storage.unreachable or storage.reachable")
			}
		}
	}
	if f.MinImpact != "" && f.MinImpact.Rank() < 0 {
		add("min_impact", "must be none, minor, major or critical")
	}
	return errs
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

// checkHost accepts what a destination's host is compared with (its URL's
// host, lowercased): a host name in ASCII, or an IP address written as Go
// writes it. A name in another script is written in its ASCII (xn--)
// form, which matches the name in either form in a URL.
func checkHost(s string) string {
	const want = "must be a lowercase host name such as shop.example.com, or an IP address (no scheme, port, path or wildcard)"
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" || ip.String() != s {
			return fmt.Sprintf("must be an IP address as %q", ip.WithZone("").String())
		}
		return ""
	}
	if !isASCII(s) {
		if a, err := idna.Lookup.ToASCII(s); err == nil && a != s && isHostName(a) {
			return fmt.Sprintf("must be written in ASCII: %q for %q", a, clip(s))
		}
		return want
	}
	if !isHostName(s) {
		return want
	}
	return ""
}

// isHostName reports whether s is a lowercase DNS name: labels of 1 to 63
// letters, digits, hyphens (not first nor last) and underscores, as Go's
// resolver takes them, 253 bytes at most, without a final dot.
func isHostName(s string) bool {
	if s == "" || len(s) > maxFilterName {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func isASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 })
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) <= 100 {
		return s
	}
	return strings.ToValidUTF8(s[:100], "") + "…"
}

// matchHost is a host as a filter's hosts are compared with it: in its
// ASCII form, so a URL's host written in another script matches the
// filter's xn-- name.
func matchHost(h string) string {
	if isASCII(h) {
		return h
	}
	if a, err := idna.Lookup.ToASCII(h); err == nil {
		return a
	}
	return h
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
		slices.Contains(f.Hosts, matchHost(HostOf(a.URL))) || (a.Fallback != "" && slices.Contains(f.Hosts, matchHost(HostOf(a.Fallback))))
}

// StorageImpact is how an alert about linkwatch's database weighs against
// min_impact: major, as its own monitoring, records, alerts and status
// page stop while visitors are still redirected.
const StorageImpact = ImpactMajor

// ApplyStorage reports whether the receiver gets an alert about
// linkwatch's database of type t. It is about no link: a receiver scoped
// to pages, links or hosts (a team's) does not get it; events choose it
// like any type; min_impact weighs it as StorageImpact.
func (f Filter) ApplyStorage(t AlertType) bool {
	if f.scoped() || len(f.Events) > 0 && !slices.Contains(f.Events, t) {
		return false
	}
	return f.MinImpact == "" || StorageImpact.Rank() >= f.MinImpact.Rank()
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
	hostMatch := inc.Host != "" && slices.Contains(f.Hosts, matchHost(inc.Host))
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
