package main

import (
	"context"
	"time"

	"linkwatch/statuspage"
	"linkwatch/storage"
)

// statusSource adapts storage to what the status page reads; the two
// packages do not import each other.
type statusSource struct{ *storage.DB }

func (s statusSource) DailyStats(ctx context.Context, from time.Time) ([]statuspage.DayStat, error) {
	stats, err := s.DB.DailyStats(ctx, from)
	if err != nil {
		return nil, err
	}
	out := make([]statuspage.DayStat, len(stats))
	for i, st := range stats {
		out[i] = statuspage.DayStat{Target: st.Target, Day: st.Day, Count: st.Count, Failures: st.Failures, Degraded: st.Degraded}
	}
	return out, nil
}

var _ statuspage.Source = statusSource{}
