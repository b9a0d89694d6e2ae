package storesource

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// settledHours keeps what the latency series read of the settled hours
// (storage.SettledHours) of the last day, by hour and key, so that a
// status page rebuild, every few seconds, reads only the hour under way:
// the 24 hour rollups of each of a page's links are read once, when their
// hour is rolled up (issue 27).
//
// A kept hour is served only while it is still one the store says is
// settled (neither pruned nor the oldest kept, which a prune may be
// cutting) and no unknown span touches it: such an hour is read from its
// known minutes, where a check that finished late, written on another
// replica, may still land. Those hours, the hour under way and the hours
// not rolled up yet are read afresh every time; an hour older than the
// oldest kept is not read at all (settled.gone). Kept hours are read for
// every key kept, so a key is in all of them or in none.
type settledHours struct {
	mu    sync.Mutex
	hours map[int64]map[string]storage.Rollup // hour start (Unix seconds) -> key -> its hour, absent without a response
	keys  map[string]bool                     // the keys the hours were read for
	// asked are the keys asked for since the last hour was added: the
	// others (links a reload removed) are dropped when the next one is.
	asked map[string]bool
}

// maxCachedSpan is the longest window read through the kept hours: a day,
// and the hour its start falls in (the status page's 24-hour charts).
// Longer windows (a chart's 7 or 30 days) are read whole.
const maxCachedSpan = 25 * time.Hour

// cached reports whether a read of [from, to) in step-long buckets goes
// through the kept hours: hourly points over at most maxCachedSpan, from
// the start of an hour.
func cached(from, to time.Time, step time.Duration) bool {
	return step == time.Hour && to.Sub(from) <= maxCachedSpan && from.Equal(from.Truncate(time.Hour))
}

// settled is which hours of a window a reader may keep what it read of:
// those storage.SettledHours names that no unknown span touches (such an
// hour is read from its known minutes, where a check that finished late,
// written on another replica, may still land).
type settled struct {
	after, until int64   // SettledHours', Unix seconds
	skip         []int64 // the hours of the window an unknown span touches (storage.Reads.SkipHours)
}

// readSettled reads which hours of [from, to) may be kept.
func readSettled(ctx context.Context, st storage.Store, from, to time.Time, unknown []linkwatch.Span) (settled, error) {
	after, until, err := st.SettledHours(ctx)
	if err != nil {
		return settled{}, err
	}
	return settled{after: after.Unix(), until: until.Unix(), skip: storage.PlanReads(until.Unix(), 0, from, to, unknown).SkipHours}, nil
}

// hour reports whether the hour starting at h may be kept.
func (s settled) hour(h int64) bool {
	_, touched := slices.BinarySearch(s.skip, h)
	return h > s.after && h+3600 <= s.until && !touched
}

// gone reports whether the hour starting at h reads nothing, now and
// from now on: no hour rollup starts before the oldest kept (Prune goes
// oldest first, RollUp writes after the watermark), and an hour no
// unknown span touches is read from its hour rollups alone.
func (s settled) gone(h int64) bool {
	_, touched := slices.BinarySearch(s.skip, h)
	return h < s.after && !touched
}

// day reports whether each hour of the UTC day starting at d satisfies
// ok.
func day(d int64, ok func(int64) bool) bool {
	for h := d; h < d+86400; h += 3600 {
		if !ok(h) {
			return false
		}
	}
	return true
}

// series reads what storage.Store.LatencySeries reads of keys over [from,
// to) in hourly buckets, the settled hours from the kept ones.
func (c *settledHours) series(ctx context.Context, st storage.Store, keys []string, from, to time.Time, unknown []linkwatch.Span) (map[string][]storage.Rollup, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := readSettled(ctx, st, from, to, unknown)
	if err != nil {
		return nil, err
	}
	keep := s.hour
	start := from.Unix()
	end := min(max(s.until, start), to.Truncate(time.Hour).Unix()) // the hours rolled up in the window end here
	// What is read now: the kept hours missing (for every key kept, and
	// the keys asked for the first time), the kept hours for the new keys,
	// the other hours of the window for the keys asked.
	var missing, kept, afresh []int64
	for h := start; h < end; h += 3600 {
		switch _, ok := c.hours[h]; {
		case s.gone(h):
		case !keep(h):
			afresh = append(afresh, h)
		case ok:
			kept = append(kept, h)
		default:
			missing = append(missing, h)
		}
	}
	keySet := make(map[string]bool, len(keys))
	for _, k := range keys {
		keySet[k] = true
	}
	held := c.keys
	if len(missing) > 0 {
		// A new hour: the keys not asked for since the last one go.
		held = maps.Clone(c.asked)
		maps.Copy(held, keySet)
	}
	var fresh []string // asked, not held
	for _, k := range keys {
		if !c.keys[k] {
			fresh = append(fresh, k)
		}
	}
	got := map[int64]map[string]storage.Rollup{}
	if err := readHours(ctx, st, slices.Collect(maps.Keys(held)), missing, unknown, got); err != nil {
		return nil, err
	}
	if err := readHours(ctx, st, fresh, kept, unknown, got); err != nil {
		return nil, err
	}
	if err := readHours(ctx, st, keys, afresh, unknown, got); err != nil {
		return nil, err
	}
	live, err := st.LatencySeries(ctx, keys, time.Unix(end, 0).UTC(), to, time.Hour, unknown)
	if err != nil {
		return nil, err
	}

	// Every read done: keep the hours the window holds, for the keys held.
	for h, byKey := range c.hours {
		if h < start || !keep(h) {
			delete(c.hours, h)
			continue
		}
		for k := range byKey {
			if !held[k] {
				delete(byKey, k)
			}
		}
	}
	for _, h := range slices.Concat(missing, kept) {
		if c.hours[h] == nil {
			c.hours[h] = map[string]storage.Rollup{}
		}
		maps.Copy(c.hours[h], got[h])
	}
	c.keys = maps.Clone(held)
	for _, k := range fresh {
		c.keys[k] = true
	}
	if len(missing) > 0 {
		clear(c.asked)
	}
	maps.Copy(c.asked, keySet)

	out := make(map[string][]storage.Rollup, len(keys))
	for h := start; h < end; h += 3600 {
		src := c.hours[h]
		if !keep(h) {
			src = got[h]
		}
		for _, k := range keys {
			if r, ok := src[k]; ok {
				out[k] = append(out[k], r)
			}
		}
	}
	for k, rs := range live {
		out[k] = append(out[k], rs...)
	}
	return out, nil
}

// readHours reads the hours (sorted) of keys, a run of consecutive hours
// at a time, into into.
func readHours(ctx context.Context, st storage.Store, keys []string, hours []int64, unknown []linkwatch.Span, into map[int64]map[string]storage.Rollup) error {
	if len(keys) == 0 {
		return nil
	}
	for i := 0; i < len(hours); {
		j := i + 1
		for j < len(hours) && hours[j] == hours[j-1]+3600 {
			j++
		}
		series, err := st.LatencySeries(ctx, keys, time.Unix(hours[i], 0).UTC(), time.Unix(hours[j-1]+3600, 0).UTC(), time.Hour, unknown)
		if err != nil {
			return err
		}
		for k, rs := range series {
			for _, r := range rs {
				h := r.Start.Unix()
				if into[h] == nil {
					into[h] = map[string]storage.Rollup{}
				}
				into[h][k] = r
			}
		}
		i = j
	}
	return nil
}

// settledDays keeps what the daily stats read of the UTC days whose every
// hour may be kept (settled), so that a rebuild of the page's 90-day bars
// reads only the day under way: 90 days of hour rollups of every target
// are read once, a day at a time as each settles.
type settledDays struct {
	mu   sync.Mutex
	days map[int64][]storage.DayStat // day start (Unix seconds) -> every target's stats of that day
}

// stats reads what storage.Store.DailyStats reads over [from, to), from
// the start of a UTC day, the settled days from the kept ones.
func (c *settledDays) stats(ctx context.Context, st storage.Store, from, to time.Time, unknown []linkwatch.Span) ([]storage.DayStat, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := readSettled(ctx, st, from, to, unknown)
	if err != nil {
		return nil, err
	}
	start := from.Unix()
	end := max(start, min(s.until, to.Unix())/86400*86400) // the days wholly rolled up in the window end here
	var read []int64                                       // the days read now: neither gone nor kept
	for d := start; d < end; d += 86400 {
		if _, ok := c.days[d]; !day(d, s.gone) && (!ok || !day(d, s.hour)) {
			read = append(read, d)
		}
	}
	got := map[int64][]storage.DayStat{}
	for i := 0; i < len(read); {
		j := i + 1
		for j < len(read) && read[j] == read[j-1]+86400 {
			j++
		}
		stats, err := st.DailyStats(ctx, time.Unix(read[i], 0).UTC(), time.Unix(read[j-1]+86400, 0).UTC(), unknown)
		if err != nil {
			return nil, err
		}
		for _, ds := range stats {
			got[ds.Day.Unix()] = append(got[ds.Day.Unix()], ds)
		}
		i = j
	}
	live, err := st.DailyStats(ctx, time.Unix(end, 0).UTC(), to, unknown)
	if err != nil {
		return nil, err
	}

	// Every read done: keep the settled days the window holds.
	for d := range c.days {
		if d < start || !day(d, s.hour) {
			delete(c.days, d)
		}
	}
	for _, d := range read {
		if day(d, s.hour) {
			c.days[d] = got[d] // nil: no target has a check that day
		}
	}
	out := live
	for d := start; d < end; d += 86400 {
		if day(d, s.hour) {
			out = append(out, c.days[d]...)
		} else {
			out = append(out, got[d]...)
		}
	}
	slices.SortFunc(out, func(a, b storage.DayStat) int {
		return cmp.Or(strings.Compare(a.Target, b.Target), a.Day.Compare(b.Day))
	})
	return out, nil
}
