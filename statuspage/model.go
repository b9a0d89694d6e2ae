// Package statuspage serves the public status page: HTML, a JSON API in the
// shape of the Atlassian Statuspage public API v2, an Atom feed and SVG
// badges. It reads incidents and rollups, never raw results, so rendering
// cost does not grow with history.
package statuspage

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/incidents"
)

// DayStat is one target's checks over one UTC day.
type DayStat struct {
	Target   string
	Day      time.Time
	Count    int64
	Failures int64
	Degraded int64
}

// Latency is a target's response time over a window, read off the rollup
// histograms: each quantile is the bound of the histogram bucket it falls
// in, capped by the slowest response. Only checks that got a response (up
// or degraded) have a response time: without any (Responses 0) there is no
// data, whatever the number of failed checks.
type Latency struct {
	Responses int64
	P50       time.Duration
	P95       time.Duration
}

// Source is what the status page reads. The reads of checks leave out
// those made in the unknown spans (the prober was offline), which count
// neither for nor against uptime and latency.
type Source interface {
	// LatencySeries returns the response time of each group of targets
	// (group name -> target ids), its targets taken together, over [from,
	// to): in total and in step-long buckets from from (step is whole
	// hours, from the start of an hour). A group without a response in the
	// window is absent.
	LatencySeries(ctx context.Context, groups map[string][]string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string]LatencySeries, error)
	OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error)
	ListIncidents(ctx context.Context, q linkwatch.IncidentQuery) ([]linkwatch.Incident, error)
	IncidentUpdates(ctx context.Context, id int64) ([]linkwatch.Update, error)
	ListMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error)
	// DailyStats returns each target's checks by UTC day over [from, to).
	DailyStats(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) ([]DayStat, error)
	// FeedIDs returns the feed's UUID and each incident's, made once and
	// stored, so feed entries keep their ids.
	FeedIDs(ctx context.Context, incidentIDs []int64) (feed string, byIncident map[int64]string, err error)
}

// Component statuses, in the Statuspage vocabulary.
const (
	Operational         = "operational"
	DegradedPerformance = "degraded_performance"
	PartialOutage       = "partial_outage"
	MajorOutage         = "major_outage"
	UnderMaintenance    = "under_maintenance"
)

var statusRank = map[string]int{Operational: 0, UnderMaintenance: 1, DegradedPerformance: 2, PartialOutage: 3, MajorOutage: 4}

func worse(a, b string) string {
	if statusRank[b] > statusRank[a] {
		return b
	}
	return a
}

// Days of history shown.
const historyDays = 90

// Component is one row of the status page.
type Component struct {
	// ID is the public, opaque id (see componentID); Key is what the rest of
	// linkwatch calls the component: "hub", "page:<slug>", "host:<host>",
	// "dest:<url>", as in maintenance windows.
	ID          string
	Key         string
	Name        string
	Description string
	Status      string
	Position    int
	GroupID     string   // the ID of the host group a destination belongs to
	Children    []string // for a group: the IDs of its components
	Page        string   // for a page component: its slug
	groupKey    string   // the Key of the host group a destination belongs to
	targets     []string // the series its history is read from
	// incidentTargets are the targets whose incidents it shows, when they
	// differ from targets (the hub: one series per page, a target per link).
	incidentTargets []string
	Days            []Day
	Uptime          float64 // percent over the days with data, -1 without data
	// Label and Tone are what the page shows of Status (see shown): "No
	// data" where nothing was measured, the last known status while the
	// prober is offline.
	Label, Tone string
	// Chart is a host group's response-time chart over 24 hours, on the
	// status of every page; empty otherwise.
	Chart template.HTML
	// Latency is a destination's response time over the last 24 hours;
	// nil for other components.
	Latency *Latency
}

// toneUnknown is the neutral look of a state linkwatch has not measured.
const toneUnknown = "unknown"

// shown is what the page says of c's state: its status, except that a
// status linkwatch did not measure never reads as one. A component under
// maintenance is under maintenance, whatever its checks; one without any
// check in 90 days and no incident has no data; while the prober is
// offline, the rest shows its last known status, in a neutral tone.
func (s *Snapshot) shown(c *Component) (label, tone string) {
	switch {
	case c.Status == UnderMaintenance:
		return statusLabel(c.Status), c.Status
	case c.Status == Operational && c.Uptime < 0:
		return "No data", toneUnknown
	case s.ProberOffline:
		return "Last known: " + strings.ToLower(statusLabel(c.Status)), toneUnknown
	}
	return statusLabel(c.Status), c.Status
}

// Day is one bar of the 90-day history.
type Day struct {
	Date        time.Time
	Checks      int64
	DownMinutes float64 // a partial outage counts for the share of the component it hit
	Minutes     float64 // minutes covered by checks
	Level       string  // nodata | operational | minor | partial | major
	// Unchecked is how long linkwatch could not check that day (its
	// prober was offline): those checks are counted in no bar.
	Unchecked time.Duration
}

// Tooltip describes the day for the bar's title.
func (d Day) Tooltip() string {
	date := d.Date.Format("Mon 2 Jan 2006")
	var out string
	switch {
	case d.Level == "nodata":
		out = date + ": no data"
	case d.DownMinutes < 0.5:
		out = date + ": no downtime"
	default:
		out = fmt.Sprintf("%s: %.0f min of downtime", date, d.DownMinutes)
	}
	if d.Unchecked >= time.Minute {
		out += "; linkwatch could not check for " + incidents.HumanDuration(d.Unchecked.Truncate(time.Minute))
	}
	return out
}

// IncidentView is an incident with its public updates.
type IncidentView struct {
	linkwatch.Incident
	Updates    []linkwatch.Update // newest first, including the opening and resolution
	Components []string           // component IDs it affects
	// Maintained is set while an active maintenance window covers the open
	// incident (as the engine mutes it): its components read under
	// maintenance, and it raises no outage indicator.
	Maintained bool
}

// LastChange is when the incident last changed in public: an update, its
// resolution or its published postmortem.
func (v IncidentView) LastChange() time.Time {
	t := v.UpdatedAt
	for _, u := range v.Updates {
		if u.CreatedAt.After(t) {
			t = u.CreatedAt
		}
	}
	if v.Postmortem.Published && v.Postmortem.UpdatedAt.After(t) {
		t = v.Postmortem.UpdatedAt
	}
	return t
}

// Duration is how long the incident lasted (or has lasted).
func (v IncidentView) Duration(now time.Time) time.Duration {
	end := v.ResolvedAt
	if end.IsZero() {
		end = now
	}
	return end.Sub(v.StartedAt).Round(time.Minute)
}

// Snapshot is the computed state of the status page at one moment, for
// every page or for one (Scope).
type Snapshot struct {
	At          time.Time
	Scope       string // the page slug it is limited to, "" for every page
	Components  []*Component
	ByID        map[string]*Component
	byKey       map[string]*Component
	Indicator   string // none | minor | major | critical
	Description string
	Open        []IncidentView
	History     []IncidentView
	Maintenance []linkwatch.Maintenance // active and upcoming
	// Links are the scoped page's links, with their response times and
	// where their visitors are being sent; empty without a scope.
	Links []LinkView
	// ProberOffline is set while linkwatch cannot check (its network or
	// canary is failing: an open prober_offline incident): the page says
	// so in a neutral banner and shows the last known states, never an
	// outage of the links.
	ProberOffline bool
	// Banner is the page's banner, computed with Indicator.
	Banner Banner
	// Stale is set on a snapshot served after a rebuild failed (the
	// database is out of reach): the page says the state is as of At.
	Stale bool
	// unknown are the spans whose checks count for nothing: the prober
	// was offline.
	unknown []linkwatch.Span
	// pastMaintenance are the windows that ended in the history window,
	// for the feeds.
	pastMaintenance []linkwatch.Maintenance
	feedID          string           // the feed's stored UUID
	entryIDs        map[int64]string // each incident's stored UUID
	page            *renderedPage    // its HTML, rendered at the first request
}

// staleCopy returns the snapshot as served once rebuilds fail: the same
// state, as of the same moment, marked stale, with a page of its own.
func (s *Snapshot) staleCopy() *Snapshot {
	c := *s
	c.Stale, c.page = true, new(renderedPage)
	return &c
}

// Banner is the line at the top of the status page.
type Banner struct {
	Tone    string // ok | minor | major | critical | maintenance | unknown
	Heading string
	Note    string // a sentence under the heading, or ""
}

// renderedPage is a snapshot's status page, rendered once.
type renderedPage struct {
	once    sync.Once
	body    []byte
	gzipped []byte // body compressed once, for the clients that accept it
	err     error
}

// LinkView is one link of a page on its status page.
type LinkView struct {
	Slug   string
	Title  string
	URL    string
	Status string // its destination component's
	Label  string // what the page shows of it (see Snapshot.shown)
	Tone   string
	// Uptime is its destination's over the 90 days (see Component).
	Uptime float64
	P50    string // "" without a response in the window
	P95    string
	// Responses is how many checks got a response in the window: 0 is no
	// data, whatever the number of failed checks.
	Responses int64
	// Fallback is where its visitors are being sent while its destination
	// is down, as the open incident records it; "" when they are not.
	Fallback string
	// ChartURL serves its response-time chart, over the last 24 hours by
	// default and over other ranges too; the page loads it lazily, as an
	// image, so the page's first paint does not wait for 1,000 charts.
	// ChartText is what that chart adds to the row in words (see
	// chart.altWords), the image's text for screen readers and clients
	// without images.
	ChartURL  string
	ChartText string
	chart     chart // the 24-hour chart, served at ChartURL from the snapshot
}

// Component returns the component with the given public ID.
func (s *Snapshot) Component(id string) (*Component, bool) {
	c, ok := s.ByID[id]
	return c, ok
}

// byKeyOf returns the component linkwatch calls key ("page:acme").
func (s *Snapshot) byKeyOf(key string) (*Component, bool) {
	c, ok := s.byKey[key]
	return c, ok
}

// MaintenanceLabel names what a maintenance window covers in words: the
// page's title rather than "page:acme".
func (s *Snapshot) MaintenanceLabel(m linkwatch.Maintenance) string {
	if m.Component == "" {
		return "every component"
	}
	if c, ok := s.byKey[m.Component]; ok {
		return c.Name
	}
	_, rest, _ := strings.Cut(m.Component, ":")
	return rest
}

// componentID is the public id of the component linkwatch calls key: 12
// characters of base32 SHA-256, like Statuspage's opaque ids, the same on
// every start and every replica, and revealing no URL.
func componentID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:8]))[:12]
}

// build computes a snapshot from the catalog and the source. With a scope
// (a page slug), it holds only what that page depends on: the hub's
// redirects of its links, the page, and its own destinations, grouped by
// host, with the incidents and maintenance that touch them. Another page's
// destination on the same host is not part of it.
func build(ctx context.Context, src Source, cat *hub.Catalog, interval time.Duration, selfCheck bool, now time.Time, scope string) (*Snapshot, error) {
	s := &Snapshot{At: now, Scope: scope, ByID: map[string]*Component{}, byKey: map[string]*Component{}, page: new(renderedPage)}
	add := func(c *Component) *Component {
		if old, ok := s.byKey[c.Key]; ok {
			return old
		}
		c.ID = componentID(c.Key)
		c.Position = len(s.Components) + 1
		c.Status = Operational
		s.Components = append(s.Components, c)
		s.ByID[c.ID] = c
		s.byKey[c.Key] = c
		return c
	}
	hubC := add(&Component{Key: "hub", Name: "Link hub", Description: "The hub's pages and short-link redirects"})
	pages := cat.Pages()
	if scope != "" {
		p, ok := cat.Page(scope)
		if !ok {
			return nil, fmt.Errorf("status page: no page %q", scope)
		}
		pages = []*hub.Page{p}
	}
	pageOf := map[string][]string{} // destination URL -> page component keys
	selfTargets := map[string]bool{}
	destLinks := map[string][]string{} // destination URL -> "page/link" in scope
	var destURLs []string
	for _, p := range pages {
		pc := add(&Component{Key: linkwatch.PageComponent(p.Slug), Name: p.Title, Description: "Links on /" + p.Slug, Page: p.Slug})
		if selfCheck && len(p.Links) > 0 {
			// The self-checks of a page's links share one history (their
			// Series), and each is its own target in incidents.
			hubC.targets = append(hubC.targets, linkwatch.SelfSeriesID(p.Slug))
			for _, l := range p.Links {
				hubC.incidentTargets = append(hubC.incidentTargets, linkwatch.SelfCheckID(p.Slug, l.Slug))
			}
		}
		for _, l := range p.Links {
			selfTargets[linkwatch.SelfCheckID(p.Slug, l.Slug)] = true
			pc.targets = append(pc.targets, l.URL)
			pageOf[l.URL] = append(pageOf[l.URL], pc.Key)
			if _, seen := destLinks[l.URL]; !seen {
				destURLs = append(destURLs, l.URL)
			}
			destLinks[l.URL] = append(destLinks[l.URL], p.Slug+"/"+l.Slug)
		}
	}
	// Destinations by host, then URL, as the catalog lists them.
	sort.Strings(destURLs)
	sort.SliceStable(destURLs, func(i, j int) bool { return linkwatch.HostOf(destURLs[i]) < linkwatch.HostOf(destURLs[j]) })
	for _, u := range destURLs {
		host := linkwatch.HostOf(u)
		g := add(&Component{Key: linkwatch.HostComponent(host), Name: host, Description: "Destinations on " + host})
		dc := add(&Component{Key: linkwatch.DestComponent(u), Name: u, GroupID: g.ID, groupKey: g.Key, targets: []string{u},
			Description: "Used by " + strings.Join(destLinks[u], ", ")})
		g.Children = append(g.Children, dc.ID)
		g.targets = append(g.targets, u)
	}

	// What linkwatch knows of its own prober: the spans its checks are
	// unknown, and whether it can check now.
	from := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(historyDays - 1))
	open, err := src.OpenIncidents(ctx)
	if err != nil {
		return nil, err
	}
	internal := true
	own, err := src.ListIncidents(ctx, linkwatch.IncidentQuery{Internal: &internal, Since: from.Add(-24 * time.Hour), Limit: maxOwnIncidents})
	if err != nil {
		return nil, err
	}
	// An open one may have started before the window (and the list): the
	// checks it makes unknown are in the window all the same.
	s.unknown = linkwatch.UnknownSpans(append(own, open...), interval, now)
	open = slices.DeleteFunc(open, func(inc linkwatch.Incident) bool {
		s.ProberOffline = s.ProberOffline || inc.Kind == linkwatch.KindProberOffline
		return inc.Kind.Internal() // linkwatch's own trouble, not the links'
	})

	// Maintenance: the windows of this scope are listed; any active window
	// covering an incident's components covers the incident, as the
	// engine mutes it.
	windows, err := src.ListMaintenance(ctx, now.Add(-historyWindow))
	if err != nil {
		return nil, err
	}
	var active, activeHere []linkwatch.Maintenance
	for _, m := range windows {
		on := !now.Before(m.StartsAt) && now.Before(m.EndsAt)
		if on {
			active = append(active, m)
		}
		if _, ok := s.byKey[m.Component]; m.Component != "" && !ok {
			continue // another page's window
		}
		if !m.EndsAt.After(now) {
			s.pastMaintenance = append(s.pastMaintenance, m)
			continue
		}
		s.Maintenance = append(s.Maintenance, m)
		if on {
			activeHere = append(activeHere, m)
		}
	}
	maintained := func(inc linkwatch.Incident) bool {
		return slices.ContainsFunc(active, func(m linkwatch.Maintenance) bool { return m.Covers(now, inc.Components()) })
	}

	// Current status from open incidents: they carry the thresholds, so a
	// single failed check does not paint the page red. A component in an
	// active window is under maintenance whatever its checks; one hit only
	// by incidents a window covers is too.
	failing := map[string]string{} // target -> component status it causes
	inMaintenance := map[string]bool{}
	for _, inc := range open {
		if maintained(inc) {
			for _, t := range inc.Targets {
				inMaintenance[t] = true
			}
			continue
		}
		st := MajorOutage
		if inc.Impact == linkwatch.ImpactMinor {
			st = DegradedPerformance
		}
		for _, t := range inc.Targets {
			failing[t] = worse(failing[t], st)
		}
	}
	for _, c := range s.Components {
		if slices.ContainsFunc(activeHere, func(m linkwatch.Maintenance) bool { return covers(m, c) }) {
			c.Status = UnderMaintenance
			continue
		}
		targets := c.targets
		if c.incidentTargets != nil {
			targets = c.incidentTargets
		}
		hit, worst := 0, Operational
		for _, t := range targets {
			if st, ok := failing[t]; ok {
				hit++
				worst = worse(worst, st)
			}
		}
		switch {
		case hit == 0 && slices.ContainsFunc(targets, func(t string) bool { return inMaintenance[t] }):
			c.Status = UnderMaintenance
		case hit == 0:
		case worst == MajorOutage && hit < len(targets) && c.Key != "hub":
			c.Status = PartialOutage
		default:
			c.Status = worst
		}
	}

	if err := s.fillHistory(ctx, src, interval, from, now); err != nil {
		return nil, err
	}
	for _, c := range s.Components {
		c.Label, c.Tone = s.shown(c)
	}
	// Incidents first: the charts mark them.
	if err := s.fillIncidents(ctx, src, open, maintained, pageOf, selfTargets, now); err != nil {
		return nil, err
	}
	var page *hub.Page
	if scope != "" {
		page = pages[0]
	}
	if err := s.fillLatency(ctx, src, page, open, now); err != nil {
		return nil, err
	}
	var ids []int64
	for _, v := range slices.Concat(s.Open, s.History) {
		ids = append(ids, v.ID)
	}
	if s.feedID, s.entryIDs, err = src.FeedIDs(ctx, ids); err != nil {
		return nil, err
	}
	s.Indicator, s.Description, s.Banner = indicator(s)
	return s, nil
}

// maxOwnIncidents bounds how many of linkwatch's own incidents (prober
// offline, canary) one snapshot reads for the spans its checks are
// unknown: over 90 days, far more than a working prober has.
const maxOwnIncidents = 10000

// covers reports whether a maintenance window applies to c: every
// component, c itself, or the host group c belongs to.
func covers(m linkwatch.Maintenance, c *Component) bool {
	return m.Component == "" || m.Component == c.Key || m.Component == c.groupKey
}

// fillHistory computes each component's 90 daily bars from from and its
// uptime from the daily rollups of its targets, leaving out the checks of
// the unknown spans: a day linkwatch could not check is no data, not
// downtime.
func (s *Snapshot) fillHistory(ctx context.Context, src Source, interval time.Duration, from, now time.Time) error {
	stats, err := src.DailyStats(ctx, from, now, s.unknown)
	if err != nil {
		return err
	}
	unchecked := make([]time.Duration, historyDays)
	for i := range unchecked {
		day := from.AddDate(0, 0, i)
		for _, u := range s.unknown {
			start, end := u.From, u.To
			if start.Before(day) {
				start = day
			}
			if next := day.Add(24 * time.Hour); end.After(next) {
				end = next
			}
			if d := end.Sub(start); d > 0 {
				unchecked[i] += d
			}
		}
	}
	byTarget := map[string]map[int64]DayStat{}
	for _, st := range stats {
		m := byTarget[st.Target]
		if m == nil {
			m = map[int64]DayStat{}
			byTarget[st.Target] = m
		}
		m[st.Day.Unix()] = st
	}
	perCheck := interval.Minutes()
	for _, c := range s.Components {
		// units is how many targets the component's checks come from: a
		// series may hold many (the hub's, one per page, a check per link).
		units := len(c.targets)
		if c.incidentTargets != nil {
			units = len(c.incidentTargets)
		}
		c.Days = make([]Day, historyDays)
		var total, down float64
		for i := range c.Days {
			day := from.AddDate(0, 0, i)
			d := Day{Date: day, Level: "nodata", Unchecked: unchecked[i]}
			var minutes float64
			for _, t := range c.targets {
				st, ok := byTarget[t][day.Unix()]
				if !ok {
					continue
				}
				d.Checks += st.Count
				// Degraded (rate limited, slow) weighs a third of down.
				minutes += (float64(st.Failures) + float64(st.Degraded)/3) * perCheck
			}
			if d.Checks > 0 && units > 0 {
				// A component with n targets, one of them down, is a
				// partial outage: it counts for 1/n of the downtime.
				d.DownMinutes = minutes / float64(units)
				dayMinutes := float64(d.Checks) * perCheck / float64(units)
				d.Minutes = dayMinutes
				total += dayMinutes
				down += min(d.DownMinutes, dayMinutes)
				d.Level = dayLevel(d.DownMinutes)
			}
			c.Days[i] = d
		}
		c.Uptime = -1
		if total > 0 {
			c.Uptime = 100 * (1 - down/total)
		}
	}
	return nil
}

func dayLevel(down float64) string {
	switch {
	case down < 0.5:
		return "operational"
	case down < 5:
		return "minor"
	case down < 30:
		return "partial"
	default:
		return "major"
	}
}

// historyWindow is how far back resolved incidents are listed.
const historyWindow = historyDays * 24 * time.Hour

// publicView is an incident as visitors read it: its operators' updates
// (ups, oldest first) between the automatic first and last ones, newest
// first, so every incident tells its story even before anyone has written
// one. The automatic ones say who wrote them: linkwatch, not a person
// ("we" is for an operator's own updates).
func publicView(inc linkwatch.Incident, ups []linkwatch.Update) IncidentView {
	v := IncidentView{Incident: inc}
	opening := "Detected by linkwatch: " + inc.Summary
	if inc.Kind == linkwatch.KindRegional {
		// Seen from some regions only: degraded, not an outage.
		opening = "Detected by linkwatch from some of its probing regions only: " + inc.Summary
	}
	v.Updates = append(v.Updates, linkwatch.Update{ID: -inc.ID*10 - 1, IncidentID: inc.ID, Status: linkwatch.StatusInvestigating,
		Body: opening, CreatedAt: inc.StartedAt})
	v.Updates = append(v.Updates, ups...)
	if !inc.Open() && (len(ups) == 0 || ups[len(ups)-1].Status != linkwatch.StatusResolved) {
		v.Updates = append(v.Updates, linkwatch.Update{ID: -inc.ID*10 - 2, IncidentID: inc.ID, Status: linkwatch.StatusResolved,
			Body: "Resolved by linkwatch after " + incidents.HumanDuration(inc.ResolvedAt.Sub(inc.StartedAt)) + ".", CreatedAt: inc.ResolvedAt})
	}
	slices.Reverse(v.Updates)
	return v
}

// fillIncidents lists the public incidents (open holds the open ones, no
// internal kind) that touch the snapshot's components; maintained says
// which of the open ones a maintenance window covers.
func (s *Snapshot) fillIncidents(ctx context.Context, src Source, open []linkwatch.Incident, maintained func(linkwatch.Incident) bool,
	pageOf map[string][]string, selfTargets map[string]bool, now time.Time) error {
	closed, internal := false, false
	past, err := src.ListIncidents(ctx, linkwatch.IncidentQuery{Open: &closed, Internal: &internal, Since: now.Add(-historyWindow), Limit: 50})
	if err != nil {
		return err
	}
	view := func(inc linkwatch.Incident) (IncidentView, error) {
		ups, err := src.IncidentUpdates(ctx, inc.ID)
		if err != nil {
			return IncidentView{}, err
		}
		v := publicView(inc, ups)
		v.Maintained = inc.Open() && maintained(inc)
		seen := map[string]bool{}
		addC := func(key string) {
			if c, ok := s.byKey[key]; ok && !seen[key] {
				seen[key] = true
				v.Components = append(v.Components, c.ID)
			}
		}
		for _, t := range inc.Targets {
			if linkwatch.IsSelfCheck(t) {
				// A page's status shows the hub's incidents about its own
				// links' redirects, not another page's.
				if s.Scope == "" || selfTargets[t] {
					addC("hub")
				}
				continue
			}
			// Through its destination only: the host group of one page's
			// status holds just that page's destinations on the host.
			if _, ok := s.byKey[linkwatch.DestComponent(t)]; ok {
				addC(linkwatch.DestComponent(t))
				addC(linkwatch.HostComponent(linkwatch.HostOf(t)))
			}
			for _, p := range pageOf[t] {
				addC(p)
			}
		}
		return v, nil
	}
	// inScope keeps, on one page's status, the incidents that touch it.
	inScope := func(v IncidentView) bool { return s.Scope == "" || len(v.Components) > 0 }
	for _, inc := range open {
		v, err := view(inc)
		if err != nil {
			return err
		}
		if inScope(v) {
			s.Open = append(s.Open, v)
		}
	}
	for _, inc := range past {
		v, err := view(inc)
		if err != nil {
			return err
		}
		if inScope(v) {
			s.History = append(s.History, v)
		}
	}
	return nil
}

// Banner notes.
const (
	proberOfflineHeading = "linkwatch cannot check right now"
	proberOfflineNote    = "Its own network or canary is failing; the links' last known states are shown."
)

// indicator computes the status indicator and its description (in the
// Statuspage vocabulary: none, minor, major, critical, maintenance) and the
// page's banner. Open incidents count for what they hit, except those a
// maintenance window covers; a component under maintenance with no worse
// incident is "maintenance", as Atlassian's pages say. While the prober is
// offline, the indicator still reflects the incidents known, the
// description says the states are the last known, and the banner is
// neutral: never green over checks that were not made, never an outage of
// the links.
func indicator(s *Snapshot) (string, string, Banner) {
	ind := "none"
	for _, v := range s.Open {
		if v.Maintained {
			continue
		}
		switch {
		case v.Kind == linkwatch.KindHub || v.Impact == linkwatch.ImpactCritical:
			ind = "critical"
		case v.Impact == linkwatch.ImpactMajor && ind != "critical":
			ind = "major"
		case v.Impact == linkwatch.ImpactMinor && ind == "none":
			ind = "minor"
		}
	}
	desc := map[string]string{"critical": "Major Service Outage", "major": "Partial System Outage", "minor": "Minor Service Outage",
		"none": "All Systems Operational"}[ind]
	if ind == "none" && slices.ContainsFunc(s.Components, func(c *Component) bool { return c.Status == UnderMaintenance }) {
		ind, desc = "maintenance", "Service Under Maintenance"
	}
	tone := ind
	if ind == "none" {
		tone = "ok"
	}
	b := Banner{Tone: tone, Heading: desc}
	if s.ProberOffline {
		b = Banner{Tone: toneUnknown, Heading: proberOfflineHeading, Note: proberOfflineNote}
		if ind == "none" {
			desc = "Status Unknown: Monitoring Offline"
		} else {
			desc += " (Last Known: Monitoring Offline)"
		}
	}
	return ind, desc, b
}

// UptimeOver returns the uptime percentage over the last n days (today
// included), or -1 without data.
func (c *Component) UptimeOver(n int) float64 {
	var total, down float64
	for _, d := range c.Days[max(0, len(c.Days)-n):] {
		total += d.Minutes
		down += min(d.DownMinutes, d.Minutes)
	}
	if total == 0 {
		return -1
	}
	return 100 * (1 - down/total)
}

// fillLatency reads the response times of the last 24 hours, from the
// rollup histograms (never raw results) in one read: each destination's,
// and the charts of the scoped page's links (with page) or of each host
// (without).
func (s *Snapshot) fillLatency(ctx context.Context, src Source, page *hub.Page, open []linkwatch.Incident, now time.Time) error {
	var subjects []chartSubject
	if page != nil {
		for _, l := range page.Links {
			subjects = append(subjects, chartSubject{ID: "chart-l-" + l.Slug, Name: page.Slug + "/" + l.Slug, Targets: []string{l.URL}})
		}
	}
	for _, c := range s.Components {
		switch {
		case strings.HasPrefix(c.Key, linkwatch.DestComponent("")):
			subjects = append(subjects, chartSubject{ID: "latency-" + c.ID, Name: c.Name, Targets: c.targets})
		case page == nil && strings.HasPrefix(c.Key, linkwatch.HostComponent("")):
			subjects = append(subjects, chartSubject{ID: "chart-h-" + c.ID, Name: c.Name, Targets: c.targets})
		}
	}
	if len(subjects) == 0 {
		return nil
	}
	charts, err := readCharts(ctx, src, subjects, chartRanges["24h"], now, slices.Concat(s.Open, s.History), s.unknown)
	if err != nil {
		return err
	}
	for _, c := range s.Components {
		if ch, ok := charts["latency-"+c.ID]; ok {
			lt := ch.Series.Total
			c.Latency = &lt
		}
		if ch, ok := charts["chart-h-"+c.ID]; ok {
			c.Chart = ch.inline()
		}
	}
	if page != nil {
		s.fillLinks(page, open, charts)
	}
	return nil
}

// fillLinks lists the scoped page's links with their p50 and p95 response
// times over the last 24 h and their charts, and the fallback their
// visitors are sent to, as the open incidents record it.
func (s *Snapshot) fillLinks(p *hub.Page, open []linkwatch.Incident, charts map[string]chart) {
	diverted := map[string]string{}
	for _, inc := range open {
		for _, a := range inc.Affected {
			if a.Diverted && a.Page == p.Slug {
				diverted[a.Link] = a.Fallback
			}
		}
	}
	for _, l := range p.Links {
		v := LinkView{Slug: l.Slug, Title: l.Title, URL: l.URL, Status: Operational, Fallback: diverted[l.Slug]}
		v.Label, v.Tone, v.Uptime = statusLabel(v.Status), v.Status, -1
		if c, ok := s.byKey[linkwatch.DestComponent(l.URL)]; ok {
			v.Status, v.Label, v.Tone, v.Uptime = c.Status, c.Label, c.Tone, c.Uptime
		}
		ch := charts["chart-l-"+l.Slug]
		if lt := ch.Series.Total; lt.Responses > 0 {
			v.Responses, v.P50, v.P95 = lt.Responses, formatLatency(lt.P50), formatLatency(lt.P95)
		}
		v.chart, v.ChartURL, v.ChartText = ch, "/chart/"+p.Slug+"/"+l.Slug+".svg", ch.altWords(l.Title)
		s.Links = append(s.Links, v)
	}
}

// formatLatency says a response time the way people read one: "85 ms",
// "1.2 s".
func formatLatency(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
