package main

import (
	"context"
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

// Latency reads the quantiles off the rollup histograms.
func (s statusSource) Latency(ctx context.Context, targets []string, from, to time.Time) (map[string]statuspage.Latency, error) {
	hists, err := s.Store.LatencyHistograms(ctx, targets, from, to)
	if err != nil {
		return nil, err
	}
	out := make(map[string]statuspage.Latency, len(hists))
	for k, h := range hists {
		out[k] = statuspage.Latency{Checks: h.Count, P50: h.Quantile(0.5), P95: h.Quantile(0.95)}
	}
	return out, nil
}

var _ statuspage.Source = statusSource{}
