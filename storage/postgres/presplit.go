package postgres

// TEMPORARY: issue 15 moves storage's backend-agnostic rules (the raw
// sampling rule, the minute aggregate, the alert and admin rules, the
// migration reader) into exported code in package storage. Until that
// lands on main they are copied here, under the names they will have
// there; this file goes at the merge and every caller says storage.X.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"linkwatch/checker"
	"linkwatch/incidents"
	"linkwatch/storage"
)

const (
	histColumns        = len(storage.LatencyBuckets) + 1
	rollupSettle       = 2 * time.Minute
	rawSampleEvery     = 10 * time.Minute
	newChannelLookback = time.Hour
)

type committed[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (c *committed[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *committed[K, V]) Merge(fresh map[K]V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]V{}
	}
	for k, v := range fresh {
		c.m[k] = v
	}
}

type rawState struct {
	seen    bool
	last    checker.Status
	cause   checker.Cause
	lastRaw time.Time
}

func (st *rawState) keep(r *checker.Result) bool {
	keep := !st.seen || r.Status != st.last || r.Cause != st.cause || r.Start.Sub(st.lastRaw) >= rawSampleEvery
	st.seen, st.last, st.cause = true, r.Status, r.Cause
	if keep {
		st.lastRaw = r.Start
	}
	return keep
}

type minuteAgg struct {
	Count, Failures, Degraded int64
	MinUS, MaxUS, SumUS       int64
	Hist                      [histColumns]int64
}

func (a *minuteAgg) add(r *checker.Result) {
	us := r.Latency.Microseconds()
	if a.Count == 0 || us < a.MinUS {
		a.MinUS = us
	}
	a.MaxUS = max(a.MaxUS, us)
	a.Count++
	a.SumUS += us
	switch r.Status {
	case checker.StatusDown:
		a.Failures++
	case checker.StatusDegraded:
		a.Degraded++
	}
	i := len(storage.LatencyBuckets)
	for j, b := range storage.LatencyBuckets {
		if r.Latency < b {
			i = j
			break
		}
	}
	a.Hist[i]++
}

type minuteKey struct {
	Series string
	Start  int64
}

type sampler struct {
	states committed[string, rawState]
}

type batch struct {
	Keep    []bool
	Minutes map[minuteKey]*minuteAgg
	states  map[string]rawState
}

func (s *sampler) Plan(results []checker.Result) *batch {
	b := &batch{Keep: make([]bool, len(results)), Minutes: map[minuteKey]*minuteAgg{}, states: map[string]rawState{}}
	for i := range results {
		r := &results[i]
		k := minuteKey{r.SeriesID(), r.Start.Unix() / 60 * 60}
		a := b.Minutes[k]
		if a == nil {
			a = &minuteAgg{}
			b.Minutes[k] = a
		}
		a.add(r)
		st, ok := b.states[r.TargetID]
		if !ok {
			st, _ = s.states.Get(r.TargetID)
		}
		b.Keep[i] = st.keep(r)
		b.states[r.TargetID] = st
	}
	return b
}

func (s *sampler) Commit(b *batch) { s.states.Merge(b.states) }

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

func changeAlert(c incidents.Change, saved incidents.Incident, update *incidents.Update, now time.Time) *incidents.Alert {
	if c.Alert == nil {
		return nil
	}
	a := *c.Alert
	a.IncidentID, a.Incident = saved.ID, saved
	if update != nil {
		a.Update = update
	}
	if a.EventID == "" {
		a.EventID = newEventID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	return &a
}

func updateAlert(inc incidents.Incident, u incidents.Update, now time.Time) *incidents.Alert {
	if inc.AlertsSuppressed {
		return nil
	}
	return &incidents.Alert{EventID: newEventID(), Type: incidents.AlertUpdated, Reason: string(incidents.EventUpdatePosted),
		IncidentID: inc.ID, Incident: inc, CreatedAt: now, Update: &u}
}

func checkAcknowledge(inc incidents.Incident) error {
	if !inc.AcknowledgedAt.IsZero() {
		return fmt.Errorf("incident %d was already acknowledged by %s: %w", inc.ID, inc.AcknowledgedBy, incidents.ErrConflict)
	}
	return nil
}

func checkUpdate(inc incidents.Incident, status incidents.Status) error {
	id := inc.ID
	if inc.Open() && status == incidents.StatusResolved {
		return fmt.Errorf("incident %d is still open; resolve it with POST /api/admin/incidents/%d/resolve: %w", id, id, incidents.ErrConflict)
	}
	if !inc.Open() && status != incidents.StatusResolved {
		return fmt.Errorf("incident %d is resolved; updates to it must have status resolved: %w", id, incidents.ErrConflict)
	}
	return nil
}

func activeAt(all []incidents.Maintenance, t time.Time) []incidents.Maintenance {
	out := all[:0]
	for _, m := range all {
		if !t.Before(m.StartsAt) {
			out = append(out, m)
		}
	}
	return out
}

func channelStates(names []string, off map[string]incidents.ChannelState, counts map[string]map[string]int64) []incidents.ChannelState {
	out := make([]incidents.ChannelState, 0, len(names))
	for _, name := range names {
		st, disabled := off[name]
		st.Name, st.Enabled = name, !disabled
		st.Deliveries = counts[name]
		if st.Deliveries == nil {
			st.Deliveries = map[string]int64{}
		}
		out = append(out, st)
	}
	return out
}

func histogramBuckets(hoursDone int64, from, to time.Time) (hours, minutes []int64) {
	start, end := from.Truncate(time.Hour).Unix(), to.Unix()
	hoursEnd := min(max(hoursDone, start), end/3600*3600)
	for b := start; b < hoursEnd; b += 3600 {
		hours = append(hours, b)
	}
	for b := hoursEnd; b < end; b += 60 {
		minutes = append(minutes, b)
	}
	return hours, minutes
}

type migration struct {
	Version    int
	Name, Body string
}

func readMigrations(fsys fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("storage: list migrations: %w", err)
	}
	var out []migration
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("storage: migration %s: name must start with a number", base)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("storage: migrations %s and %s share the number %d", other, base, version)
		}
		seen[version] = base
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("storage: read migration %s: %w", base, err)
		}
		out = append(out, migration{Version: version, Name: base, Body: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.Version - b.Version })
	return out, nil
}
