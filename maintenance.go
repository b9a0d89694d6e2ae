package linkwatch

import (
	"errors"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Maintenance is a window in which checks run and are recorded but no
// incident alerts go out. An empty Component means every component.
type Maintenance struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Component string    `json:"component"` // "" (global), "hub", "page:<slug>", "host:<host>" or "dest:<url>"
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedAt time.Time `json:"created_at"`
	// Recurring is the RecurringMaintenance this window is an occurrence
	// of (ID is then 0), or 0 for a one-off window.
	Recurring int64 `json:"recurring_id,omitempty"`
}

// Covers reports whether the window is active at t for any of components.
func (m Maintenance) Covers(t time.Time, components []string) bool {
	if t.Before(m.StartsAt) || !t.Before(m.EndsAt) {
		return false
	}
	if m.Component == "" {
		return true
	}
	for _, c := range components {
		if c == m.Component {
			return true
		}
	}
	return false
}

// Ref names a window where a page, a feed or the Statuspage JSON needs
// one name per window: its id, or for an occurrence of a recurring
// window that window's id and the occurrence's start ("r3-20261206T0200Z"),
// the same on every replica and every read.
func (m Maintenance) Ref() string {
	if m.Recurring == 0 {
		return strconv.FormatInt(m.ID, 10)
	}
	return "r" + strconv.FormatInt(m.Recurring, 10) + "-" + m.StartsAt.UTC().Format("20060102T1504Z")
}

// RecurringMaintenance is a maintenance window that comes back on a
// schedule: a cron expression (robfig/cron's standard parser, five
// fields or a descriptor such as @weekly) read in UTC unless it starts
// with CRON_TZ=<IANA zone>, and how long each occurrence lasts. Its
// occurrences (Expand) are Maintenance windows like the one-off ones, so
// whatever lists windows mutes, shows and feeds them alike.
type RecurringMaintenance struct {
	ID        int64
	Title     string
	Component string // as Maintenance.Component
	Schedule  string
	Duration  time.Duration
	CreatedAt time.Time
}

// ParseSchedule parses a recurring window's schedule. A schedule that
// never fires (30 February) or is not anchored to the clock (@every) is
// an error: its occurrences would be none, or differ with each read.
func ParseSchedule(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		spec = "CRON_TZ=UTC " + spec // robfig/cron's default is the process's zone
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if _, ok := s.(*cron.SpecSchedule); !ok {
		return nil, errors.New("@every is not tied to the clock: use a cron expression such as 0 2 * * SUN")
	}
	if s.Next(time.Unix(0, 0)).IsZero() { // robfig/cron looks five years ahead: 29 February fires
		return nil, errors.New("the schedule never fires")
	}
	return s, nil
}

// Occurrences returns the occurrences of r that end after from and start
// before to, soonest first. Occurrences end after r was created: a
// window scheduled today has no past. A schedule that does not parse has
// none (the admin API refuses it; a zone this binary does not know is
// the only way to store one).
func (r RecurringMaintenance) Occurrences(from, to time.Time) []Maintenance {
	var out []Maintenance
	for m := range r.occurrences(from) {
		if !m.StartsAt.Before(to) {
			break
		}
		out = append(out, m)
	}
	return out
}

// Upcoming returns the next n occurrences of r that have not ended by
// now, the one in progress first.
func (r RecurringMaintenance) Upcoming(now time.Time, n int) []Maintenance {
	var out []Maintenance
	for m := range r.occurrences(now) {
		if len(out) == n {
			break
		}
		out = append(out, m)
	}
	return out
}

// Expand returns the occurrences of r that a list of windows since a
// time holds at now: those that end after since and have started by
// now, and the next one, which is what a one-off window's list shows of
// a window that comes back (upcoming: one; completed: each).
func (r RecurringMaintenance) Expand(since, now time.Time) []Maintenance {
	var out []Maintenance
	for m := range r.occurrences(since) {
		out = append(out, m)
		if m.StartsAt.After(now) {
			break
		}
	}
	return out
}

// occurrences yields the occurrences of r ending after from (and after
// r's creation), in order, for as long as the schedule fires.
func (r RecurringMaintenance) occurrences(from time.Time) iter.Seq[Maintenance] {
	return func(yield func(Maintenance) bool) {
		s, err := ParseSchedule(r.Schedule)
		if err != nil || r.Duration <= 0 {
			return
		}
		if from.Before(r.CreatedAt) {
			from = r.CreatedAt
		}
		// Next is strictly after its argument: a start after
		// from-Duration is an end after from.
		for t := s.Next(from.UTC().Add(-r.Duration)); !t.IsZero(); t = s.Next(t) {
			m := Maintenance{Recurring: r.ID, Title: r.Title, Component: r.Component, StartsAt: t.UTC(), EndsAt: t.Add(r.Duration).UTC(), CreatedAt: r.CreatedAt}
			if !yield(m) {
				return
			}
		}
	}
}

// ShortestGap returns the shortest time between two consecutive starts
// of s in the year from from, and the first such pair (in the schedule's
// zone; zero when s fires at most once that year): a window longer than
// it would overlap itself. It reads the first scheduleScan starts
// and every start within two days of a change of the schedule's zone's
// offset, where a local time that happens twice (robfig/cron fires it
// twice) brings two starts closer than the rest of the year does.
func ShortestGap(s cron.Schedule, from time.Time) (gap time.Duration, a, b time.Time) {
	loc := time.UTC
	if spec, ok := s.(*cron.SpecSchedule); ok {
		loc = spec.Location
	}
	from = from.In(loc) // the starts in the schedule's zone, as it says them
	end := from.AddDate(1, 0, 0)
	scan := func(t, until time.Time, limit int) {
		prev := s.Next(t)
		for i := 0; i < limit && !prev.IsZero() && prev.Before(until); i++ {
			next := s.Next(prev)
			if next.IsZero() {
				return
			}
			if d := next.Sub(prev); a.IsZero() || d < gap {
				gap, a, b = d, prev, next
			}
			prev = next
		}
	}
	scan(from, end, scheduleScan)
	for t := from; t.Before(end); t = t.Add(24 * time.Hour) {
		_, before := t.Zone()
		if _, after := t.Add(24 * time.Hour).Zone(); after != before {
			scan(t.Add(-48*time.Hour), t.Add(72*time.Hour), scheduleScan)
		}
	}
	return gap, a, b
}

// scheduleScan bounds how many starts ShortestGap reads in one stretch:
// robfig/cron takes tens of microseconds a start in a zone, and a
// schedule that fires this often has shown its gaps long before.
const scheduleScan = 2000

// OnPage reports whether the status page of page ("" for the hub-wide
// one, which shows every page) shows window m, as the status page scopes
// windows: a window of everything or of the hub is on every page (each
// shows the hub), a page's window on that page, a host's or a
// destination's on the pages with a link to it; dests are the
// destination URLs of page's links. The prober's windows are on none.
func (m Maintenance) OnPage(page string, dests []string) bool {
	kind, value, ok := ParseComponent(m.Component)
	switch {
	case !ok || kind == ComponentProber:
		return false
	case kind == ComponentAll || kind == ComponentHub:
		return true
	case page == "":
		return true
	case kind == ComponentPage:
		return value == page
	case kind == ComponentHost:
		return slices.ContainsFunc(dests, func(d string) bool { return HostOf(d) == value })
	case kind == ComponentDest:
		return slices.Contains(dests, value)
	}
	return false
}
