package storesource

import (
	"context"
	"maps"
	"slices"
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
// not rolled up yet are read afresh every time. Kept hours are read for
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

// series reads what storage.Store.LatencySeries reads of keys over [from,
// to) in hourly buckets, the settled hours from the kept ones.
func (c *settledHours) series(ctx context.Context, st storage.Store, keys []string, from, to time.Time, unknown []linkwatch.Span) (map[string][]storage.Rollup, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	after, until, err := st.SettledHours(ctx)
	if err != nil {
		return nil, err
	}
	start := from.Unix()
	end := min(max(until.Unix(), start), to.Truncate(time.Hour).Unix()) // the hours rolled up in the window end here
	skip := storage.PlanReads(until.Unix(), 0, from, to, unknown).SkipHours
	keep := func(h int64) bool {
		_, touched := slices.BinarySearch(skip, h)
		return h > after.Unix() && h+3600 <= until.Unix() && !touched
	}
	// What is read now: the kept hours missing (for every key kept, and
	// the keys asked for the first time), the kept hours for the new keys,
	// the other hours of the window for the keys asked.
	var missing, kept, afresh []int64
	for h := start; h < end; h += 3600 {
		switch _, ok := c.hours[h]; {
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
