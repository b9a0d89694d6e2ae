package main

import (
	"context"
	"slices"
	"time"

	"linkwatch/statuspage"
	"linkwatch/storage"
)

// statusSource adapts storage to what the status page reads; the two
// packages do not import each other.
type statusSource struct{ storage.Store }

func (s statusSource) DailyStats(ctx context.Context, from time.Time) ([]statuspage.DayStat, error) {
	stats, err := s.Store.DailyStats(ctx, from)
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
// group's targets summed bucket by bucket before a quantile is taken.
func (s statusSource) LatencySeries(ctx context.Context, groups map[string][]string, from, to time.Time, step time.Duration) (map[string]statuspage.LatencySeries, error) {
	var keys []string
	for _, ks := range groups {
		keys = append(keys, ks...)
	}
	slices.Sort(keys)
	series, err := s.Store.LatencySeries(ctx, slices.Compact(keys), from, to, step)
	if err != nil {
		return nil, err
	}
	out := make(map[string]statuspage.LatencySeries, len(groups))
	for name, ks := range groups {
		total, buckets := storage.SumSeries(series, ks)
		if total.Count == 0 {
			continue
		}
		ls := statuspage.LatencySeries{Total: latencyOf(total), Points: make([]statuspage.LatencyPoint, len(buckets))}
		for i, b := range buckets {
			ls.Points[i] = statuspage.LatencyPoint{Start: b.Start, Latency: latencyOf(b)}
		}
		out[name] = ls
	}
	return out, nil
}

func latencyOf(h storage.Rollup) statuspage.Latency {
	return statuspage.Latency{Checks: h.Count, P50: h.Quantile(0.5), P95: h.Quantile(0.95)}
}

var _ statuspage.Source = statusSource{}
