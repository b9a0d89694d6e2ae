package linkwatch

import (
	"net/url"
	"strings"
)

// Targets: one per destination URL, one per short link (self-checks), the
// canary. A destination's target id is its URL, as stored since the first
// release.

// DestinationID returns the target id of a destination URL.
func DestinationID(rawURL string) string { return rawURL }

// SelfCheckID returns the target id of the hub's own short link /page/link.
func SelfCheckID(page, link string) string { return selfPrefix + "/" + page + "/" + link }

// SelfSeriesID returns the id under which a page's self-checks share one
// history (rollups and the status page's hub bars).
func SelfSeriesID(page string) string { return selfPrefix + "/" + page }

// CanaryID returns the target id of the canary URL.
func CanaryID(rawURL string) string { return canaryPrefix + rawURL }

// IsSelfCheck reports whether a target id is a self-check's (or a page's
// self-check series).
func IsSelfCheck(target string) bool { return strings.HasPrefix(target, selfPrefix+"/") }

const (
	selfPrefix   = "self:"
	canaryPrefix = "canary:"
)

// Components, as maintenance windows and the status page name them.
const (
	HubComponent    = "hub"    // the hub's pages and short links
	ProberComponent = "prober" // linkwatch's own prober: its network and canary
)

const (
	pagePrefix = "page:"
	hostPrefix = "host:"
	destPrefix = "dest:"
)

// PageComponent returns the component of a page of links.
func PageComponent(slug string) string { return pagePrefix + slug }

// HostComponent returns the component of the destinations on one host.
func HostComponent(host string) string { return hostPrefix + host }

// DestComponent returns the component of one destination URL.
func DestComponent(rawURL string) string { return destPrefix + rawURL }

// ComponentKind says what a component id names.
type ComponentKind string

const (
	ComponentAll    ComponentKind = ""       // "" in a maintenance window: everything
	ComponentHub    ComponentKind = "hub"    // HubComponent
	ComponentProber ComponentKind = "prober" // ProberComponent
	ComponentPage   ComponentKind = "page"   // PageComponent(slug)
	ComponentHost   ComponentKind = "host"   // HostComponent(host)
	ComponentDest   ComponentKind = "dest"   // DestComponent(url)
)

// ParseComponent splits a component id into its kind and value (the page
// slug, host or URL). ok is false for anything else, or an empty value.
func ParseComponent(c string) (kind ComponentKind, value string, ok bool) {
	switch c {
	case "":
		return ComponentAll, "", true
	case HubComponent:
		return ComponentHub, "", true
	case ProberComponent:
		return ComponentProber, "", true
	}
	for _, p := range []struct {
		prefix string
		kind   ComponentKind
	}{{pagePrefix, ComponentPage}, {hostPrefix, ComponentHost}, {destPrefix, ComponentDest}} {
		if rest, found := strings.CutPrefix(c, p.prefix); found {
			return p.kind, rest, rest != ""
		}
	}
	return "", "", false
}

// Incident keys: one open incident per key.

// DestKey is the key of one destination's incident.
func DestKey(rawURL string) string { return DestComponent(rawURL) }

// HostKey is the key of a host's incident: its destinations failing with
// one cause.
func HostKey(host, cause string) string { return hostPrefix + host + "|" + cause }

// RegionalKey is the key of a host's regional note: its destinations
// failing from a minority of regions only, one note for the host as one
// incident. RegionalHubKey is the hub's: its redirects failing so.
// (Notes opened before notes were grouped are keyed by destination URL,
// "regional:https://...": they go on until they resolve.)
func RegionalKey(host string) string { return regionalPrefix + hostPrefix + host }

// RegionalHubKey is the key of the hub's regional note.
const RegionalHubKey = regionalPrefix + HubKey

const regionalPrefix = "regional:"

// ValidRegion reports whether name can name a probing region
// (probe.region): 1 to 32 lowercase letters, digits and hyphens, such as
// "eu-west".
func ValidRegion(name string) bool {
	if len(name) < 1 || len(name) > 32 {
		return false
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// The keys of the singleton incidents.
const (
	HubKey    = "hub"    // the hub's self-checks
	ProberKey = "prober" // the prober's own network
	CanaryKey = "canary" // the canary itself
)

// ReplicaKey is the key of a singleton incident of one replica (its
// prober_offline or canary incident: its own network), so two replicas'
// incidents never merge. With no replica name it is key itself.
func ReplicaKey(key, replica string) string {
	if replica == "" {
		return key
	}
	return key + replicaSep + replica
}

// ReplicaOf returns the replica a ReplicaKey names, "" for any other key.
func ReplicaOf(key string) string {
	if base, replica, ok := strings.Cut(key, replicaSep); ok && (base == ProberKey || base == CanaryKey) {
		return replica
	}
	return ""
}

const replicaSep = "@"

// IsCanary reports whether a target id is the canary's.
func IsCanary(target string) bool { return strings.HasPrefix(target, canaryPrefix) }

// HostOf returns the host name of a URL in lower case, "" if it does not
// parse (config validation makes that impossible for a configured URL).
// Host names are case-insensitive: Shop.test and shop.test are one host to
// the checker, so they are one host to the replicas' split, host incidents
// and the status page too.
func HostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
