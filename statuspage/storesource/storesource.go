// Package storesource reads the status page's Source from a storage.Store:
// statuspage and storage do not import each other, and serve and the
// status page's tests read through this one adapter.
package storesource

import (
	"context"
	"slices"
	"time"

	"linkwatch"
	"linkwatch/statuspage"
	"linkwatch/storage"
)

// Source is a storage.Store as the status page reads it. Made by New, it
// keeps what it read of the settled hours (settledHours: the last day's
// latency) and days (settledDays: the 90-day bars), so each rebuild of the
// page reads only the hour and the day under way; its zero value with a
// Store reads every hour every time.
type Source struct {
	storage.Store
	hours *settledHours
	days  *settledDays
}

// New returns the status page's Source over st, keeping the settled hours
// and days it reads.
func New(st storage.Store) *Source {
	return &Source{Store: st, hours: &settledHours{hours: map[int64]map[string]storage.Rollup{}, keys: map[string]bool{}, asked: map[string]bool{}},
		days: &settledDays{days: map[int64][]storage.DayStat{}}}
}

// DailyStats is the store's, in the status page's terms; made by New,
// the settled days come from the kept ones (settledDays).
func (s Source) DailyStats(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) ([]statuspage.DayStat, error) {
	var stats []storage.DayStat
	var err error
	if s.days != nil && from.Equal(from.UTC().Truncate(24*time.Hour)) {
		stats, err = s.days.stats(ctx, s.Store, from.UTC(), to.UTC(), unknown)
	} else {
		stats, err = s.Store.DailyStats(ctx, from, to, unknown)
	}
	if err != nil {
		return nil, err
	}
	out := make([]statuspage.DayStat, len(stats))
	for i, st := range stats {
		out[i] = statuspage.DayStat{Target: st.Target, Day: st.Day, Count: st.Count, Failures: st.Failures, Degraded: st.Degraded}
	}
	return out, nil
}

// LatencySeries reads the quantiles off the rollup histograms, each
// group's targets summed bucket by bucket before a quantile is taken. A
// group or a bucket without a response has no response time.
func (s Source) LatencySeries(ctx context.Context, groups map[string][]string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string]statuspage.LatencySeries, error) {
	var keys []string
	for _, ks := range groups {
		keys = append(keys, ks...)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var series map[string][]storage.Rollup
	var err error
	if s.hours != nil && len(keys) > 0 && cached(from, to, step) {
		series, err = s.hours.series(ctx, s.Store, keys, from.UTC(), to.UTC(), unknown)
	} else {
		series, err = s.Store.LatencySeries(ctx, keys, from, to, step, unknown)
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]statuspage.LatencySeries, len(groups))
	for name, ks := range groups {
		total, buckets := storage.SumSeries(series, ks)
		if total.LatCount == 0 {
			continue
		}
		ls := statuspage.LatencySeries{Total: latencyOf(total)}
		for _, b := range buckets {
			if b.LatCount > 0 {
				ls.Points = append(ls.Points, statuspage.LatencyPoint{Start: b.Start, Latency: latencyOf(b)})
			}
		}
		out[name] = ls
	}
	return out, nil
}

func latencyOf(h storage.Rollup) statuspage.Latency {
	return statuspage.Latency{Responses: h.LatCount, P50: h.Quantile(0.5), P95: h.Quantile(0.95)}
}

var _ statuspage.Source = Source{}
